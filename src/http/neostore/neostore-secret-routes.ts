import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { MAX_EPOCH_SECONDS, parseInstant } from '../../core/instant.js';
import { SECRET_NAME_PATTERN } from '../../core/names.js';
import { callerOf } from '../auth.js';
import { noContent } from '../response-schemas.js';

const TenantParam = Type.String({ maxLength: 256, description: 'Tenant id.' });
const KeyParam = Type.String({
  maxLength: 127,
  pattern: SECRET_NAME_PATTERN.source,
  description: "Secret key: 1-127 of A-Z, a-z, 0-9, '-' and '_'; case-sensitive.",
  'x-message': "The secret key must be 1-127 characters of A-Z, a-z, 0-9, '-' or '_'.",
});

const Instant = Type.Union(
  [
    Type.String({ format: 'date-time', maxLength: 64 }),
    Type.Integer({ minimum: 0, maximum: MAX_EPOCH_SECONDS, format: 'int64' }),
  ],
  {
    'x-message': 'Expected an ISO 8601 date-time (e.g. 2030-01-31T12:00:00Z) or Unix epoch seconds.',
    description: 'ISO 8601 date-time or Unix epoch seconds (UTC).',
  },
);

const SetRequest = Type.Object(
  {
    value: Type.String({ description: 'Secret value to store (at most 65,536 bytes in UTF-8).' }),
    options: Type.Optional(
      Type.Object(
        {
          notBefore: Type.Optional(Instant),
          expiresOn: Type.Optional(Instant),
        },
        { additionalProperties: false, description: 'Optional validity window for the secret.' },
      ),
    ),
  },
  { additionalProperties: false, $id: 'SetRequest' },
);
type SetRequest = Static<typeof SetRequest>;

const ProblemResponse = { $ref: 'ProblemDetails#' };
const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description: 'Problem details',
        content: { 'application/problem+json': { schema: ProblemResponse } },
      },
    ]),
  );

/** What a client's Accept header asks for, among the value's three representations. */
type ValueType = 'text/plain' | 'application/json' | 'text/json';
export function negotiateValueType(accept: string | undefined): ValueType {
  if (accept === undefined) return 'text/plain';
  let best: ValueType = 'text/plain';
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.trim().toLowerCase().split(';');
    const type = rawType?.trim();
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q) || q <= 0) continue;
    const candidate: ValueType | undefined =
      type === 'text/plain' || type === 'text/*' || type === '*/*'
        ? 'text/plain'
        : type === 'application/json' || type === 'application/*'
          ? 'application/json'
          : type === 'text/json'
            ? 'text/json'
            : undefined;
    if (candidate !== undefined && q > bestQ) {
      best = candidate;
      bestQ = q;
    }
  }
  return best;
}

/** `/api/{tenantId}/secrets…`: the tenant's store `default`, values in plaintext over the API. */
export function neostoreSecretRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/:tenantId/secrets',
      {
        schema: {
          operationId: 'listSecretKeys',
          tags: ['Secret'],
          summary: 'List all secret keys',
          description:
            'Returns the keys of all secrets stored for the tenant, sorted; never values. Requires `secrets:read` (Neostore: `Secret.Read`).',
          params: Type.Object({ tenantId: TenantParam }),
          response: {
            200: { description: 'List of all secret keys', type: 'array', items: { type: 'string' } },
            ...problemResponses(401, 403),
          },
        },
      },
      async (request) => {
        const { tenantId } = request.params;
        return core.secrets.listNames(callerOf(request), tenantId);
      },
    );

    app.get(
      '/:tenantId/secrets/:key',
      {
        schema: {
          operationId: 'getSecretValue',
          tags: ['Secret'],
          summary: 'Retrieve secret value',
          description:
            'Returns the value as text/plain, or as a JSON string when the client accepts application/json or text/json. Missing, expired and not-yet-valid secrets are 404. Requires `secrets:reveal` (Neostore: `Secret.Read`).',
          params: Type.Object({ tenantId: TenantParam, key: KeyParam }),
          response: {
            200: {
              description: 'Secret value retrieved',
              content: {
                // Sent as the value's own bytes (a Buffer, never copied into a string): OpenAPI reads a string.
                'text/plain': { schema: Type.Unsafe<Buffer>({ type: 'string' }) },
                'application/json': { schema: { type: 'string' } },
                'text/json': { schema: { type: 'string' } },
              },
            },
            ...problemResponses(400, 401, 403, 404),
          },
        },
      },
      async (request, reply) => {
        const { tenantId, key } = request.params;
        const value = await core.secrets.reveal(callerOf(request), tenantId, key);
        const type = negotiateValueType(request.headers.accept);
        reply.header('cache-control', 'no-store');
        if (type === 'text/plain') return reply.type('text/plain; charset=utf-8').send(value);
        return reply.type(`${type}; charset=utf-8`).send(JSON.stringify(value.toString('utf8')));
      },
    );

    app.put(
      '/:tenantId/secrets/:key',
      {
        // A 65,536-byte value may take up to six times that as JSON escapes.
        bodyLimit: 512 * 1024,
        schema: {
          operationId: 'setSecret',
          tags: ['Secret'],
          summary: 'Create or update secret',
          description:
            "Stores or replaces a secret value, with an optional validity window, as a new version. Requires `secrets:set-value`, and `secrets:write` to create or to change the window; without `secrets:write`, a PUT without `options` keeps the secret's window (Neostore: `Secret.Write`).",
          params: Type.Object({ tenantId: TenantParam, key: KeyParam }),
          body: SetRequest,
          response: {
            204: noContent('Secret created or updated successfully'),
            ...problemResponses(400, 401, 403, 413),
          },
        },
      },
      async (request, reply) => {
        const { tenantId, key } = request.params;
        const body = request.body;
        const { notBefore, expiresOn } = body.options ?? {};
        await core.secrets.putValue(callerOf(request), {
          tenantId,
          name: key,
          value: body.value,
          // No `options`: no window, except that a value-only key keeps the secret's (the core decides).
          window:
            body.options === undefined
              ? undefined
              : {
                  notBefore: notBefore === undefined ? null : parseInstant(notBefore, 'options.notBefore'),
                  expiresOn: expiresOn === undefined ? null : parseInstant(expiresOn, 'options.expiresOn'),
                },
        });
        return reply.code(204).send();
      },
    );

    app.delete(
      '/:tenantId/secrets/:key',
      {
        schema: {
          operationId: 'deleteSecret',
          tags: ['Secret'],
          summary: 'Delete a secret.',
          description:
            'Destroys the secret and all its versions; it cannot be recovered. 204 also when it did not exist. Requires `secrets:write` (Neostore: `Secret.Write`).',
          params: Type.Object({ tenantId: TenantParam, key: KeyParam }),
          response: {
            204: noContent('Secret deleted successfully'),
            ...problemResponses(400, 401, 403),
          },
        },
      },
      async (request, reply) => {
        const { tenantId, key } = request.params;
        await core.secrets.delete(callerOf(request), tenantId, key);
        return reply.code(204).send();
      },
    );
  };
}
