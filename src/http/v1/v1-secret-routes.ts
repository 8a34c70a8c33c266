import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { parseInstant } from '../../core/instant.js';
import { callerOf } from '../auth.js';
import { preconditionOf, secretEtag } from './conditional-headers.js';
import { afterOf, nextCursorOf, secretListBinding } from './page-cursor.js';
import {
  DEFAULT_PAGE_SIZE,
  GetSecretQuery,
  ListQuery,
  PutSecretBody,
  RevealBody,
  RevealResponse,
  SecretPage,
  SecretParams,
  SecretSchema,
  StoreParams,
  problems,
} from './v1-schemas.js';
import { secretView } from './v1-views.js';
import { noContent, refTo } from '../response-schemas.js';

const secretResponse = (description: string) =>
  refTo(SecretSchema, {
    description,
    headers: {
      ETag: { schema: { type: 'string' }, description: 'The current version, quoted ("0": no value).' },
    },
  });

function instantOf(value: string | null | undefined, field: string): number | null | undefined {
  return value === undefined || value === null ? value : parseInstant(value, field);
}

/** `/v1/tenants/{tenant}/stores/{store}/secrets…` and `…/reveal`. */
export function v1SecretRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/tenants/:tenant/stores/:store/secrets',
      {
        schema: {
          operationId: 'v1ListSecrets',
          tags: ['Native'],
          summary: 'List secrets',
          description:
            "A store's secrets by name, metadata only, one page at a time (`prefix`, `limit`, `cursor`). Requires `secrets:read`.",
          params: StoreParams,
          querystring: ListQuery,
          response: { 200: SecretPage, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { tenant, store } = request.params;
        const query = request.query;
        const prefix = query.prefix ?? '';
        const binding = secretListBinding(tenant, store, prefix);
        // One use case per request: `afterOf`/`nextCursorOf` only open and issue the HMAC cursor
        // (core.pageCursors, a pure computation: no storage, no audit event).
        const page = await core.secrets.listByName(
          callerOf(request),
          tenant,
          { ref: store },
          {
            prefix,
            after: afterOf(core, binding, query.cursor),
            limit: query.limit ?? DEFAULT_PAGE_SIZE,
          },
        );
        return { items: page.items.map((s) => secretView(s)), nextCursor: nextCursorOf(core, binding, page) };
      },
    );

    app.get(
      '/tenants/:tenant/stores/:store/secrets/:name',
      {
        schema: {
          operationId: 'v1GetSecret',
          tags: ['Native'],
          summary: 'Get a secret',
          description:
            'The secret\'s metadata, with `ETag: "<version>"`. The value only with `?reveal=true`, which also needs `secrets:reveal` and is 404 `secret_value_not_found` when the secret has no value or is outside its validity window. Requires `secrets:read`.',
          params: SecretParams,
          querystring: GetSecretQuery,
          response: { 200: secretResponse('The secret'), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const { tenant, store, name } = request.params;
        const { reveal } = request.query;
        const actor = callerOf(request);
        if (reveal === true) {
          const { secret, value } = await core.secrets.revealByName(actor, tenant, { ref: store }, name);
          try {
            reply.header('etag', secretEtag(secret.currentVersion));
            return secretView(secret, value);
          } finally {
            value.fill(0);
          }
        }
        const secret = await core.secrets.get(actor, tenant, { ref: store }, { name });
        reply.header('etag', secretEtag(secret.currentVersion));
        return secretView(secret);
      },
    );

    app.put(
      '/tenants/:tenant/stores/:store/secrets/:name',
      {
        // A 65,536-byte value may take up to six times that as JSON escapes.
        bodyLimit: 512 * 1024,
        schema: {
          operationId: 'v1PutSecret',
          tags: ['Native'],
          summary: 'Create or update a secret',
          description:
            'Creates the secret (201) or updates it (200); absent fields are kept, `null` clears. A `value` is a new version. `If-Match: "<version>"` (or `*`) and `If-None-Match: *` make the write conditional: 412 `precondition_failed` otherwise. Requires `secrets:read`, plus `secrets:write` to create or change metadata and `secrets:set-value` for a value.',
          params: SecretParams,
          body: PutSecretBody,
          response: {
            200: secretResponse('Updated'),
            201: secretResponse('Created'),
            ...problems(400, 401, 403, 404, 412, 413, 415),
          },
        },
      },
      async (request, reply) => {
        const { tenant, store, name } = request.params;
        const body = request.body;
        const precondition = preconditionOf(request.headers, true);
        const notBefore = instantOf(body.notBefore, 'notBefore');
        const expiresOn = instantOf(body.expiresOn, 'expiresOn');
        const { secret, created } = await core.secrets.write(
          callerOf(request),
          tenant,
          { ref: store },
          name,
          {
            ...(body.value === undefined ? {} : { value: body.value }),
            ...(body.description === undefined ? {} : { description: body.description }),
            ...(body.scopes === undefined ? {} : { scopes: body.scopes }),
            ...(notBefore === undefined ? {} : { notBefore }),
            ...(expiresOn === undefined ? {} : { expiresOn }),
          },
          precondition,
        );
        return reply
          .code(created ? 201 : 200)
          .header('etag', secretEtag(secret.currentVersion))
          .send(secretView(secret));
      },
    );

    app.delete(
      '/tenants/:tenant/stores/:store/secrets/:name',
      {
        schema: {
          operationId: 'v1DeleteSecret',
          tags: ['Native'],
          summary: 'Delete a secret',
          description:
            'Destroys the secret and all its versions (404 when absent). With `If-Match`, only if it still exists at that version (412 otherwise). Requires `secrets:write`.',
          params: SecretParams,
          response: { 204: noContent('Deleted'), ...problems(400, 401, 403, 404, 412) },
        },
      },
      async (request, reply) => {
        const { tenant, store, name } = request.params;
        const precondition = preconditionOf(request.headers, false);
        await core.secrets.remove(callerOf(request), tenant, { ref: store }, { name }, precondition);
        return reply.code(204).send();
      },
    );

    app.post(
      '/tenants/:tenant/stores/:store/reveal',
      {
        bodyLimit: 256 * 1024,
        schema: {
          operationId: 'v1RevealSecrets',
          tags: ['Native'],
          summary: 'Reveal several values at once',
          description:
            '`{"names": [...]}` (at most 1000) or `{}` for every secret holding a value (at most 1000, else 400 `too_many_secrets`). Missing, valueless, expired and not-yet-valid secrets are listed in `missing`. Requires `secrets:reveal` (and `secrets:read` for `{}`).',
          params: StoreParams,
          body: RevealBody,
          response: {
            200: { description: 'Values and the names not found', ...RevealResponse },
            ...problems(400, 401, 403, 404, 413, 415),
          },
        },
      },
      async (request) => {
        const { tenant, store } = request.params;
        const { names } = request.body;
        const result = await core.secrets.revealMany(
          callerOf(request),
          tenant,
          { ref: store },
          names ?? null,
        );
        try {
          return {
            secrets: result.secrets.map((s) => ({
              name: s.name,
              value: s.value.toString('utf8'),
              version: s.version,
            })),
            missing: result.missing,
          };
        } finally {
          for (const s of result.secrets) s.value.fill(0);
        }
      },
    );
  };
}
