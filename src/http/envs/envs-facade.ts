import type { FastifyInstance } from 'fastify';
import { bearerToken, singleHeader, TENANT_AUDIENCE } from '../auth.js';
import type { FacadeDeps, FacadeDescriptor } from '../facade.js';
import { EnvsErrorSchema, envsErrorHandler, envsFailureBody, toEnvsFailure } from './envs-errors.js';
import { DeletedSchema, SecretSchema } from './envs-schemas.js';
import { envsSecretRoutes } from './envs-secret-routes.js';

/**
 * The envs facade, at the server root or `prefix` (COFFER_ENVS_PREFIX): `/{o}/{p}/envs/{envName}/secrets…`,
 * where `o` is the tenant and `{p}/{envName}` one of its stores. Errors are `{error, code}`.
 */
export function envsFacade(prefix: string): FacadeDescriptor {
  return {
    name: 'envs',
    title: 'envs (`/{o}/{p}/envs/{envName}/secrets`, under `COFFER_ENVS_PREFIX` when set)',
    prefix,
    authentication: {
      token: (request) => bearerToken(singleHeader(request.headers.authorization)),
      missing: 'An `Authorization: Bearer <token>` header is required.',
      audience: TENANT_AUDIENCE,
    },
    errors: {
      handler: envsErrorHandler,
      raw: (failure) => {
        const f = toEnvsFailure(failure);
        return { status: f.status, contentType: 'application/json; charset=utf-8', body: envsFailureBody(f) };
      },
    },
    // Mounted at the root, a not-found handler would answer for every facade: unknown routes are
    // answered only for paths of the envs shape (and methods the contract does not have).
    notFound: { catchAll: ['/:o/:p/envs/*'] },
    register: async (app: FastifyInstance, { core }: FacadeDeps) => {
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
      await app.register(envsSecretRoutes(core));
    },
  };
}
