import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { ForbiddenError, UnauthenticatedError } from '../../core/errors.js';
import { recordingRefusals } from '../audit-refusals.js';
import { authorizationSchemeProblem, bearerToken, singleHeader } from '../auth.js';
import { methodsAllowedFor } from '../route-methods.js';
import { ENVS_ERRORS, EnvsErrorSchema, envsErrorHandler, sendEnvsError } from './envs-errors.js';
import { DeletedSchema, SecretSchema } from './envs-schemas.js';
import { envsSecretRoutes } from './envs-secret-routes.js';

/**
 * The envs facade, at the server root (or COFFER_ENVS_PREFIX): `/{o}/{p}/envs/{envName}/secrets…`,
 * where `o` is the tenant and `{p}/{envName}` one of its stores. Errors are `{error, code}`.
 */
export function envsFacade(core: CofferCore): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.addSchema(EnvsErrorSchema);
    app.addSchema(SecretSchema);
    app.addSchema(DeletedSchema);
    // JSON bodies only: anything else is a 415, never a string to validate. An empty body is no
    // body (clients send `Content-Type: application/json` on DELETE too); the schema then decides.
    app.removeContentTypeParser('text/plain');
    const jsonParser = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (body === '') return done(null, undefined);
      return jsonParser(request, body.toString(), done);
    });
    app.setErrorHandler(recordingRefusals(core.auditTrail, envsErrorHandler));

    // Mounted at the root, a not-found handler would answer for every facade; this route answers
    // only for paths of the envs shape (and methods the contract does not have) in envs' own shape.
    app.all('/:o/:p/envs/*', { schema: { hide: true } }, async (request, reply) => {
      const allow = methodsAllowedFor(request);
      return sendEnvsError(
        reply,
        allow === null
          ? {
              status: ENVS_ERRORS.route_not_found.status,
              code: 'route_not_found',
              error: 'No such endpoint.',
            }
          : {
              status: ENVS_ERRORS.method_not_allowed.status,
              code: 'method_not_allowed',
              error: `${request.method} is not allowed here; this path takes ${allow.join(', ')}.`,
              allow,
            },
      );
    });

    await app.register(async (secured) => {
      secured.addHook('onRequest', async (request, reply) => {
        reply.header('cache-control', 'no-store');
        const header = singleHeader(request.headers.authorization);
        const token = bearerToken(header);
        if (token === undefined) {
          throw new UnauthenticatedError(
            'missing_credentials',
            authorizationSchemeProblem(header, '`Authorization: Bearer <token>`') ??
              'An `Authorization: Bearer <token>` header is required.',
          );
        }
        const actor = await core.auth.authenticate(token, { client: request.ip });
        // envs is a tenant's API: platform service credentials work only on their managed stores.
        if (actor.kind === 'service') {
          throw new ForbiddenError(
            'not_service',
            'service_not_allowed',
            'Service credentials cannot use envs.',
          );
        }
        request.actor = actor;
      });
      await secured.register(envsSecretRoutes(core));
    });
  };
}
