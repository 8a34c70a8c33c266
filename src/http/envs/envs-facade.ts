import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { recordingRefusals, routeNotFound } from '../audit-refusals.js';
import { authenticateRequests, bearerToken, singleHeader, TENANT_AUDIENCE } from '../auth.js';
import { EnvsErrorSchema, envsErrorHandler } from './envs-errors.js';
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

    await app.register(async (secured) => {
      authenticateRequests(secured, core.auth, {
        token: (request) => bearerToken(singleHeader(request.headers.authorization)),
        missing: 'An `Authorization: Bearer <token>` header is required.',
        audience: TENANT_AUDIENCE,
      });
      // Mounted at the root, a not-found handler would answer for every facade; this route answers
      // only for paths of the envs shape (and methods the contract does not have), authenticated and
      // recorded like any other, in envs' own shape.
      secured.all('/:o/:p/envs/*', { schema: { hide: true } }, async (request) => {
        throw routeNotFound(request);
      });
      await secured.register(envsSecretRoutes(core));
    });
  };
}
