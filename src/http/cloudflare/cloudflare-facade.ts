import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { UnauthenticatedError } from '../../core/errors.js';
import { recordingRefusals } from '../audit-refusals.js';
import { authorizationSchemeProblem, bearerToken, singleHeader } from '../auth.js';
import { methodsAllowedFor } from '../route-methods.js';
import {
  CLOUDFLARE_ERRORS,
  cloudflareError,
  cloudflareErrorHandler,
  sendCloudflareFailure,
} from './cloudflare-errors.js';
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
    // JSON bodies only: anything else is refused rather than handed to validation as a string.
    app.removeContentTypeParser('text/plain');
    app.setErrorHandler(recordingRefusals(core.auditTrail, cloudflareErrorHandler));
    app.setNotFoundHandler((request, reply) => {
      const allow = methodsAllowedFor(request);
      return sendCloudflareFailure(
        reply,
        allow === null
          ? cloudflareError('route_not_found')
          : { ...cloudflareError('method_not_allowed'), allow },
      );
    });
    app.addHook('onRequest', async (request) => {
      const token = cloudflareToken(request.headers);
      if (token === undefined) {
        const scheme = authorizationSchemeProblem(
          singleHeader(request.headers.authorization),
          '`Authorization: Bearer <token>`',
        );
        throw new UnauthenticatedError(
          'missing_credentials',
          scheme ?? CLOUDFLARE_ERRORS.authentication_required.message,
        );
      }
      request.actor = await core.auth.authenticate(token, { client: request.ip });
    });
    await app.register(secretsStoreRoutes(core, ACCOUNT_FAMILY));
    await app.register(secretsStoreRoutes(core, SYSTEM_FAMILY));
  };
}
