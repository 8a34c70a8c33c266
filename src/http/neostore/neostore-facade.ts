import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { recordingRefusals, routeNotFound } from '../audit-refusals.js';
import { authenticateRequests, bearerToken, singleHeader, TENANT_AUDIENCE } from '../auth.js';
import { neostoreApiKeyRoutes } from './neostore-api-key-routes.js';
import { neostoreAuditRoutes } from './neostore-audit-routes.js';
import { neostoreSecretRoutes } from './neostore-secret-routes.js';
import { neostoreErrorHandler } from '../problem-details.js';

/** Neostore's two credentials: `X-API-KEY: <token>` or `Authorization: Bearer <token>`. */
function neostoreToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  return singleHeader(headers['x-api-key']) ?? bearerToken(singleHeader(headers.authorization));
}

/**
 * The Neostore facade, mounted at `/api`: secrets of the tenant's `default` store, the tenant's
 * API keys and its audit trail, with ProblemDetails errors. Every route is authenticated before its body is read.
 */
export function neostoreFacade(core: CofferCore): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    // The contract accepts application/json, text/json and application/*+json bodies.
    // Only JSON bodies are accepted: anything else is a 400, not a string to validate.
    app.removeContentTypeParser('text/plain');
    const jsonParser = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('text/json', { parseAs: 'string' }, jsonParser);
    app.addContentTypeParser(/^application\/[a-z0-9.+-]+\+json$/, { parseAs: 'string' }, jsonParser);
    app.setErrorHandler(recordingRefusals(core.auditTrail, neostoreErrorHandler));
    app.setNotFoundHandler(async (request) => {
      throw routeNotFound(request);
    });
    authenticateRequests(app, core.auth, {
      token: (request) => neostoreToken(request.headers),
      missing: 'An API key is required.',
      send: '`Authorization: Bearer <token>` or `X-API-KEY: <token>`',
      audience: TENANT_AUDIENCE,
    });
    await app.register(neostoreSecretRoutes(core));
    await app.register(neostoreApiKeyRoutes(core));
    await app.register(neostoreAuditRoutes(core));
  };
}
