import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { ForbiddenError, UnauthenticatedError } from '../../core/errors.js';
import { authorizationSchemeProblem, bearerToken, singleHeader } from '../auth.js';
import { recordingRefusals } from '../audit-refusals.js';
import { sendRouteProblem } from '../problem-details.js';
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
    app.setNotFoundHandler(sendRouteProblem);
    app.addHook('onRequest', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const token =
        singleHeader(request.headers['x-api-key']) ??
        bearerToken(singleHeader(request.headers.authorization));
      if (token === undefined) {
        const scheme = authorizationSchemeProblem(
          singleHeader(request.headers.authorization),
          '`Authorization: Bearer <token>` or `X-API-KEY: <token>`',
        );
        throw new UnauthenticatedError('missing_credentials', scheme ?? 'An API key is required.');
      }
      const actor = await core.auth.authenticate(token);
      // A tenant's API: platform service credentials keep to the Cloudflare system/ routes.
      if (actor.kind === 'service') {
        throw new ForbiddenError('not_service', 'service_not_allowed', 'Service credentials cannot use /v1.');
      }
      request.actor = actor;
    });
    await app.register(v1StoreRoutes(core));
    await app.register(v1SecretRoutes(core));
  };
}
