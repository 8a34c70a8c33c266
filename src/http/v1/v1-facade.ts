import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { authenticateRequests, bearerToken, singleHeader, TENANT_AUDIENCE } from '../auth.js';
import { recordingRefusals, routeNotFound } from '../audit-refusals.js';
import { v1ErrorHandler } from './v1-errors.js';
import { SecretSchema, StoreSchema } from './v1-schemas.js';
import { v1SecretRoutes } from './v1-secret-routes.js';
import { v1StoreRoutes } from './v1-store-routes.js';

/**
 * Coffer's own API, mounted at `/v1`: a tenant's stores and secrets with full metadata, values on
 * request, conditional writes and cursor paging. Errors are ProblemDetails. docs/native-api.md.
 */
export function v1Facade(core: CofferCore): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.addSchema(StoreSchema);
    app.addSchema(SecretSchema);
    // JSON bodies only: anything else is a 415, never a string to validate.
    app.removeContentTypeParser('text/plain');
    app.setErrorHandler(recordingRefusals(core.auditTrail, v1ErrorHandler));
    app.setNotFoundHandler(async (request) => {
      throw routeNotFound(request);
    });
    authenticateRequests(app, core.auth, {
      token: (request) =>
        singleHeader(request.headers['x-api-key']) ??
        bearerToken(singleHeader(request.headers.authorization)),
      missing: 'An API key is required.',
      send: '`Authorization: Bearer <token>` or `X-API-KEY: <token>`',
      audience: TENANT_AUDIENCE,
    });
    await app.register(v1StoreRoutes(core));
    await app.register(v1SecretRoutes(core));
  };
}
