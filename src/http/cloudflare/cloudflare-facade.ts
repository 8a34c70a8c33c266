import type { FastifyInstance } from 'fastify';
import { UnauthenticatedError } from '../../core/errors.js';
import { bearerToken, singleHeader } from '../auth.js';
import type { FacadeDeps, FacadeDescriptor } from '../facade.js';
import {
  CLOUDFLARE_ERRORS,
  cloudflareErrorHandler,
  cloudflareFailureBody,
  JSON_CONTENT_TYPE,
  toCloudflareFailure,
} from './cloudflare-errors.js';
import { FailureEnvelope } from './cloudflare-schemas.js';
import { ACCOUNT_FAMILY, SYSTEM_FAMILY, secretsStoreRoutes } from './cloudflare-secrets-store-routes.js';

const PREFIX = '/client/v4';
/** System routes serve platform services; every other route (unknown ones too) tenant tokens. */
const SYSTEM_ROUTES = `${PREFIX}${SYSTEM_FAMILY.base}/`;

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
 * tokens and the 11 `system/` routes for platform services. Every answer is the v4 envelope.
 */
export const cloudflareFacade: FacadeDescriptor = {
  name: 'cloudflare',
  title: 'Cloudflare Secrets Store (`/client/v4`)',
  prefix: PREFIX,
  authentication: {
    token: (request) => cloudflareToken(request.headers),
    missing: CLOUDFLARE_ERRORS.authentication_required.message,
    audience: (request) =>
      request.routeOptions.url?.startsWith(SYSTEM_ROUTES) === true ? 'platform' : 'tenant',
  },
  errors: {
    handler: cloudflareErrorHandler,
    raw: (failure) => {
      const f = toCloudflareFailure(failure);
      return { status: f.status, contentType: JSON_CONTENT_TYPE, body: cloudflareFailureBody(f) };
    },
  },
  notFound: 'prefix',
  register: async (app: FastifyInstance, { core }: FacadeDeps) => {
    app.addSchema(FailureEnvelope);
    // Bodies are JSON. Cloudflare's API reads a JSON body whatever its media type says, and wrangler
    // relies on that: it passes `fetch()` a JSON string without a header, so undici labels it
    // `text/plain;charset=UTF-8`. Such a body is parsed as strict JSON here (never handed to
    // validation as a string); any other media type (forms, multipart, octet-stream) is still a 415.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('text/plain', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
    await app.register(secretsStoreRoutes(core, ACCOUNT_FAMILY));
    await app.register(secretsStoreRoutes(core, SYSTEM_FAMILY));
  },
};
