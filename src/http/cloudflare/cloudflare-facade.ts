import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { UnauthenticatedError } from '../../core/errors.js';
import { recordingRefusals, routeNotFound } from '../audit-refusals.js';
import { authenticateRequests, bearerToken, singleHeader } from '../auth.js';
import { CLOUDFLARE_ERRORS, cloudflareErrorHandler } from './cloudflare-errors.js';
import { FailureEnvelope } from './cloudflare-schemas.js';
import { ACCOUNT_FAMILY, SYSTEM_FAMILY, secretsStoreRoutes } from './cloudflare-secrets-store-routes.js';

/**
 * The credential of a request: `Authorization: Bearer <token>` (API token), or the global-key pair
 * `X-Auth-Email` + `X-Auth-Key` whose key is the Coffer token (the email is required, not checked).
 */
function cloudflareToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const bearer = bearerToken(singleHeader(headers.authorization));
  if (bearer !== undefined) return bearer;
  const key = singleHeader(headers['x-auth-key']);
  const email = singleHeader(headers['x-auth-email']);
  if (key === undefined) return undefined;
  if (email === undefined || email.trim() === '') {
    throw new UnauthenticatedError('invalid_credentials', 'X-Auth-Key needs X-Auth-Email.');
  }
  return key;
}

/**
 * Cloudflare's Secrets Store API, mounted at `/client/v4`: the 12 account routes for tenant API
 * tokens and the 11 `system/` routes for platform services. Every answer is the v4 envelope, and
 * every route is authenticated before its body is read.
 */
export function cloudflareFacade(core: CofferCore): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.addSchema(FailureEnvelope);
    // Bodies are JSON. Cloudflare's API reads a JSON body whatever its media type says, and wrangler
    // relies on that: it passes `fetch()` a JSON string without a header, so undici labels it
    // `text/plain;charset=UTF-8`. Such a body is parsed as strict JSON here (never handed to
    // validation as a string); any other media type (forms, multipart, octet-stream) is still a 415.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('text/plain', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
    app.setErrorHandler(recordingRefusals(core.auditTrail, cloudflareErrorHandler));
    app.setNotFoundHandler(async (request) => {
      throw routeNotFound(request);
    });
    // System routes serve platform services; every other route (unknown ones too) tenant tokens.
    const systemRoutes = `${app.prefix}${SYSTEM_FAMILY.base}/`;
    authenticateRequests(app, core.auth, {
      token: (request) => cloudflareToken(request.headers),
      missing: CLOUDFLARE_ERRORS.authentication_required.message,
      audience: (request) =>
        request.routeOptions.url?.startsWith(systemRoutes) === true ? 'platform' : 'tenant',
    });
    await app.register(secretsStoreRoutes(core, ACCOUNT_FAMILY));
    await app.register(secretsStoreRoutes(core, SYSTEM_FAMILY));
  };
}
