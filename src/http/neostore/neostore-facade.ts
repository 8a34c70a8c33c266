import type { FastifyInstance } from 'fastify';
import { bearerToken, singleHeader, TENANT_AUDIENCE } from '../auth.js';
import type { FacadeDeps, FacadeDescriptor } from '../facade.js';
import { PROBLEM_ERRORS } from '../problem-details.js';
import { neostoreApiKeyRoutes } from './neostore-api-key-routes.js';
import { neostoreAuditRoutes } from './neostore-audit-routes.js';
import { neostoreSecretRoutes } from './neostore-secret-routes.js';

/** Neostore's two credentials: `X-API-KEY: <token>` or `Authorization: Bearer <token>`. */
function neostoreToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  return singleHeader(headers['x-api-key']) ?? bearerToken(singleHeader(headers.authorization));
}

/**
 * The Neostore facade, mounted at `/api`: secrets of the tenant's `default` store, the tenant's
 * API keys and its audit trail. Errors are ProblemDetails through the base mapping
 * (src/http/problem-details.ts), which is Neostore's contract.
 */
export const neostoreFacade: FacadeDescriptor = {
  name: 'neostore',
  title: 'Neostore (`/api`)',
  prefix: '/api',
  authentication: {
    token: (request) => neostoreToken(request.headers),
    missing: 'An API key is required.',
    send: '`Authorization: Bearer <token>` or `X-API-KEY: <token>`',
    audience: TENANT_AUDIENCE,
  },
  errors: PROBLEM_ERRORS,
  notFound: 'prefix',
  register: async (app: FastifyInstance, { core }: FacadeDeps) => {
    // The contract accepts application/json, text/json and application/*+json bodies.
    // Only JSON bodies are accepted: anything else is a 400, not a string to validate.
    app.removeContentTypeParser('text/plain');
    const jsonParser = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('text/json', { parseAs: 'string' }, jsonParser);
    app.addContentTypeParser(/^application\/[a-z0-9.+-]+\+json$/, { parseAs: 'string' }, jsonParser);
    await app.register(neostoreSecretRoutes(core));
    await app.register(neostoreApiKeyRoutes(core));
    await app.register(neostoreAuditRoutes(core));
  },
};
