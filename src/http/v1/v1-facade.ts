import type { FastifyInstance } from 'fastify';
import { TENANT_AUDIENCE } from '../auth.js';
import type { FacadeDeps, FacadeDescriptor } from '../facade.js';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../problem-details.js';
import { toV1Problem, v1ErrorHandler } from './v1-errors.js';
import { SecretSchema, StoreSchema } from './v1-schemas.js';
import { v1SecretRoutes } from './v1-secret-routes.js';
import { v1StoreRoutes } from './v1-store-routes.js';
import { DeliverySchema, WebhookSchema, WebhookWithSecretSchema } from './v1-webhook-wire-schemas.js';
import { v1WebhookRoutes } from './v1-webhook-routes.js';
import { v1EventRoutes } from './v1-event-routes.js';
import { v1Token } from './v1-token.js';

/**
 * Coffer's own API, mounted at `/v1`: a tenant's stores and secrets with full metadata, values on
 * request, conditional writes and cursor paging. Errors are ProblemDetails, with the native API's
 * own status mapping (v1-errors.ts). docs/native-api.md.
 */
export const v1Facade: FacadeDescriptor = {
  name: 'v1',
  title: "Coffer's native API (`/v1/tenants/{tenant}/stores…`, docs/native-api.md)",
  prefix: '/v1',
  authentication: {
    token: v1Token,
    missing: 'An API key is required.',
    send: '`Authorization: Bearer <token>` or `X-API-KEY: <token>`',
    audience: TENANT_AUDIENCE,
  },
  errors: {
    handler: v1ErrorHandler,
    raw: (failure) => {
      const p = toV1Problem(failure);
      return { status: p.status, contentType: PROBLEM_CONTENT_TYPE, body: problemBody(p, undefined) };
    },
  },
  notFound: 'prefix',
  register: async (app: FastifyInstance, { core }: FacadeDeps) => {
    app.addSchema(StoreSchema);
    app.addSchema(SecretSchema);
    app.addSchema(WebhookSchema);
    app.addSchema(WebhookWithSecretSchema);
    app.addSchema(DeliverySchema);
    // JSON bodies only: anything else is a 415, never a string to validate.
    app.removeContentTypeParser('text/plain');
    await app.register(v1StoreRoutes(core));
    await app.register(v1SecretRoutes(core));
    await app.register(v1WebhookRoutes(core));
    await app.register(v1EventRoutes(core));
  },
};
