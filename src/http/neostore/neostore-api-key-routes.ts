import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ApiKeyView } from '../../core/api-key-service.js';
import type { CofferCore } from '../../core/coffer-core.js';
import { KNOWN_PERMISSION_NAMES } from '../../core/permissions.js';
import { callerOf } from '../auth.js';
import { noContent } from '../response-schemas.js';
import { ApiKeyCreatedResponse, ApiKeyDefinition } from './neostore-wire-schemas.js';

const TenantParam = Type.String({ maxLength: 256, description: 'Tenant id.' });
const KeyNameParam = Type.String({ maxLength: 256, description: 'Key name.' });
const Permissions = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 64,
  description: `Permission scopes. Use ["*"] for full tenant-admin access. Known names: ${KNOWN_PERMISSION_NAMES.join(', ')}.`,
});

const CreateApiKeyRequest = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'Key name: 1-64 alphanumerics, hyphens, underscores and dots.',
      'x-message': "The key name must be 1-64 characters of A-Z, a-z, 0-9, '.', '-' or '_'.",
    }),
    enabled: Type.Optional(Type.Boolean({ description: 'Whether this key is active. Defaults to true.' })),
    permissions: Type.Optional(Permissions),
  },
  { additionalProperties: false },
);
const UpdateApiKeyRequest = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Whether this key is active.' }),
    permissions: Type.Optional(Permissions),
  },
  { additionalProperties: false },
);

const problem = { content: { 'application/problem+json': { schema: { $ref: 'ProblemDetails#' } } } };
const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, { description: 'Problem details', ...problem }]));

function definition(k: ApiKeyView) {
  return { name: k.name, enabled: k.enabled, permissions: [...k.permissions] };
}

/** `/api/{tenantId}/admin/apiKeys…`: the tenant's API keys; tokens are shown once, at creation. */
export function neostoreApiKeyRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/:tenantId/admin/apiKeys',
      {
        schema: {
          operationId: 'listApiKeys',
          tags: ['ApiKeys'],
          summary: 'List API keys for the tenant',
          description:
            'All API key definitions of the tenant, sorted by name. Requires `apikeys:read` (Neostore: `tenant.apiKey:read`).',
          params: Type.Object({ tenantId: TenantParam }),
          response: { 200: Type.Array(ApiKeyDefinition), ...problems(401, 403) },
        },
      },
      async (request) => {
        const { tenantId } = request.params;
        return (await core.apiKeys.list(callerOf(request), tenantId)).map(definition);
      },
    );

    app.post(
      '/:tenantId/admin/apiKeys',
      {
        bodyLimit: 64 * 1024,
        schema: {
          operationId: 'createApiKey',
          tags: ['ApiKeys'],
          summary: 'Create a new API key',
          description:
            'Generates a token, stores only its SHA-256 hash, and returns the token once. A key cannot grant permissions it does not hold (403). Requires `apikeys:write` (Neostore: `tenant.apiKey:write`).',
          params: Type.Object({ tenantId: TenantParam }),
          body: CreateApiKeyRequest,
          response: { 201: ApiKeyCreatedResponse, ...problems(400, 401, 403, 409) },
        },
      },
      async (request, reply) => {
        const { tenantId } = request.params;
        const body = request.body;
        const created = await core.apiKeys.create(callerOf(request), tenantId, {
          name: body.name,
          enabled: body.enabled ?? true,
          permissions: body.permissions ?? [],
        });
        reply.header('cache-control', 'no-store');
        return reply.code(201).send({ ...definition(created), token: created.token });
      },
    );

    app.get(
      '/:tenantId/admin/apiKeys/:keyName',
      {
        schema: {
          operationId: 'getApiKey',
          tags: ['ApiKeys'],
          summary: 'Get a specific API key',
          description:
            'The key definition; never its hash or token. Requires `apikeys:read` (Neostore: `tenant.apiKey:read`).',
          params: Type.Object({ tenantId: TenantParam, keyName: KeyNameParam }),
          response: { 200: ApiKeyDefinition, ...problems(401, 403, 404) },
        },
      },
      async (request) => {
        const { tenantId, keyName } = request.params;
        return definition(await core.apiKeys.get(callerOf(request), tenantId, keyName));
      },
    );

    app.put(
      '/:tenantId/admin/apiKeys/:keyName',
      {
        bodyLimit: 64 * 1024,
        schema: {
          operationId: 'updateApiKey',
          tags: ['ApiKeys'],
          summary: 'Update an API key',
          description:
            'Replaces `enabled` and, when given, `permissions` (omitted: unchanged). Takes effect on the next request. Requires `apikeys:write` (Neostore: `tenant.apiKey:write`).',
          params: Type.Object({ tenantId: TenantParam, keyName: KeyNameParam }),
          body: UpdateApiKeyRequest,
          response: { 200: ApiKeyDefinition, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { tenantId, keyName } = request.params;
        const body = request.body;
        const updated = await core.apiKeys.update(callerOf(request), tenantId, keyName, {
          enabled: body.enabled,
          ...(body.permissions === undefined ? {} : { permissions: body.permissions }),
        });
        return definition(updated);
      },
    );

    app.delete(
      '/:tenantId/admin/apiKeys/:keyName',
      {
        schema: {
          operationId: 'deleteApiKey',
          tags: ['ApiKeys'],
          summary: 'Delete an API key',
          description:
            'The key stops working immediately. Requires `apikeys:write` (Neostore: `tenant.apiKey:write`).',
          params: Type.Object({ tenantId: TenantParam, keyName: KeyNameParam }),
          response: { 204: noContent('API key deleted.'), ...problems(401, 403, 404) },
        },
      },
      async (request, reply) => {
        const { tenantId, keyName } = request.params;
        await core.apiKeys.delete(callerOf(request), tenantId, keyName);
        return reply.code(204).send();
      },
    );
  };
}
