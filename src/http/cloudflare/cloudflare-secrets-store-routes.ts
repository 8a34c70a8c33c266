import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { callerOf } from '../auth.js';
import { JSON_CONTENT_TYPE } from './cloudflare-errors.js';
import {
  AccountIdParam,
  BulkDeleteBody,
  envelopeOf,
  failureResponses,
  listEnvelopeOf,
  QuotaView,
  SecretCreateBody,
  SecretDuplicateBody,
  SecretIdParam,
  SecretListQuery,
  SecretPatchBody,
  SecretView,
  StoreCreateBody,
  StoreDeleteQuery,
  StoreIdParam,
  StoreListQuery,
  StoreView,
  SystemStoreCreateBody,
} from './cloudflare-schemas.js';
import { pageRequestOf, resultInfoOf, scopeFilterOf, secretView, storeView } from './cloudflare-views.js';

/**
 * The two route families share every operation but the quota. Account routes are for a tenant's own
 * API keys and its unmanaged stores; system routes for platform services and the stores they manage
 * (the core's `resolveStore` scopes both, and its authentication admits only the family's credential
 * kind: `requireAudience`). They differ in a few wire details, kept explicit below.
 */
export interface RouteFamily {
  readonly kind: 'account' | 'system';
  /** The path up to and excluding `/stores`. */
  readonly base: string;
  readonly tenantParam: 'account_id' | 'account_tag';
  readonly operationPrefix: string;
  readonly tag: string;
}

export const ACCOUNT_FAMILY: RouteFamily = {
  kind: 'account',
  base: '/accounts/:account_id/secrets_store',
  tenantParam: 'account_id',
  operationPrefix: 'secrets-store',
  tag: 'Cloudflare Secrets Store',
};

export const SYSTEM_FAMILY: RouteFamily = {
  kind: 'system',
  base: '/system/accounts/:account_tag',
  tenantParam: 'account_tag',
  operationPrefix: 'secrets-store-system',
  tag: 'Cloudflare Secrets Store (system)',
};

function ok(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply {
  return reply
    .code(status)
    .header('content-type', JSON_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send({ success: true, errors: [], messages: [], ...body });
}

// A 65,536-byte value may take six times that as JSON escapes; a create holds up to 100 of them.
const ONE_VALUE_BODY_LIMIT = 512 * 1024;
const MANY_VALUES_BODY_LIMIT = 8 * 1024 * 1024;

export function secretsStoreRoutes(core: CofferCore, family: RouteFamily): FastifyPluginAsyncTypebox {
  return async (app) => {
    const system = family.kind === 'system';
    const tenantParams = { [family.tenantParam]: AccountIdParam };
    const Tenant = Type.Object(tenantParams);
    const Store = Type.Object({ ...tenantParams, store_id: StoreIdParam });
    const Secret = Type.Object({ ...tenantParams, store_id: StoreIdParam, secret_id: SecretIdParam });
    const op = (name: string) => `${family.operationPrefix}-${name}`;
    const stores = `${family.base}/stores`;
    const secrets = `${stores}/:store_id/secrets`;
    const scopeNote = system
      ? ' Only stores managed by the calling service exist here: any other answers 404.'
      : ' Requires a tenant API token of this account; service-managed stores answer 404.';
    // Canonical names first, then Cloudflare's permission groups (docs/permissions.md).
    const read = system
      ? ''
      : ' Requires `secrets:read` (Cloudflare: `Secrets Store Read` or `Secrets Store Write`).';
    const write = system
      ? ''
      : ' Requires `secrets:write`, and `secrets:set-value` for values (Cloudflare: `Secrets Store Write`).';

    // The tenant parameter's name is the family's, so the params type has it as an index signature:
    // present on every route (the schema requires it), though the type cannot say so.
    const tenantOf = (params: Readonly<Record<string, string>>) => params[family.tenantParam] ?? '';
    // Cloudflare names stores and secrets by id only.
    const storeRefOf = (params: { readonly store_id: string }) => ({ id: params.store_id });

    if (!system) {
      app.get(
        `${family.base}/quota`,
        {
          schema: {
            operationId: op('quota'),
            tags: [family.tag],
            summary: 'View secret usage',
            description: `Secrets the account may hold and holds, across all its stores.${read}`,
            params: Tenant,
            response: { 200: envelopeOf(QuotaView, 'Usage and quota'), ...failureResponses },
          },
        },
        async (request, reply) => {
          const quota = await core.secrets.quota(callerOf(request), tenantOf(request.params));
          return ok(reply, 200, { result: { secrets: quota } });
        },
      );
    }

    app.get(
      stores,
      {
        schema: {
          operationId: op('list'),
          tags: [family.tag],
          summary: 'List account stores',
          description: `Stores of the account, one page at a time (default order: created, asc; ties by id).${scopeNote}${read}`,
          params: Tenant,
          querystring: StoreListQuery,
          response: { 200: listEnvelopeOf(StoreView, 'A page of stores'), ...failureResponses },
        },
      },
      async (request, reply) => {
        const query = request.query;
        const page = pageRequestOf(query);
        const found = await core.stores.listPage(callerOf(request), tenantOf(request.params), {
          order: query.order ?? 'created',
          direction: query.direction ?? 'asc',
          limit: page.perPage,
          offset: page.offset,
        });
        return ok(reply, 200, {
          result: found.items.map(storeView),
          result_info: resultInfoOf(page, found.items.length, found.total),
        });
      },
    );

    if (system) {
      app.post(
        stores,
        {
          schema: {
            operationId: op('create'),
            tags: [family.tag],
            summary: 'Create a store (system)',
            description:
              'Creates a store in the account, managed by the calling service. The body’s numeric `account_id` is accepted and not used: the path’s `account_tag` names the Coffer tenant, which must exist (a service never creates one: 404 `account_not_found`).',
            params: Tenant,
            body: SystemStoreCreateBody,
            response: { 200: envelopeOf(StoreView, 'Store details'), ...failureResponses },
          },
        },
        async (request, reply) => {
          const { name } = request.body;
          const store = await core.stores.create(callerOf(request), tenantOf(request.params), name);
          return ok(reply, 200, { result: storeView(store) });
        },
      );
    } else {
      app.post(
        stores,
        {
          schema: {
            operationId: op('create'),
            tags: [family.tag],
            summary: 'Create a store',
            description: `Creates a store in the account. An object body answers an object; an array body (older SDKs) answers an array, created all or none.${write}`,
            params: Tenant,
            body: StoreCreateBody,
            response: {
              200: envelopeOf(Type.Union([StoreView, Type.Array(StoreView)]), 'Store details'),
              ...failureResponses,
            },
          },
        },
        async (request, reply) => {
          const body = request.body;
          const names = Array.isArray(body) ? body.map((b) => b.name) : [body.name];
          const created = await core.stores.createMany(callerOf(request), tenantOf(request.params), names);
          const views = created.map(storeView);
          return ok(reply, 200, { result: Array.isArray(body) ? views : views[0] });
        },
      );
    }

    app.get(
      `${stores}/:store_id`,
      {
        schema: {
          operationId: op('get-store-by-id'),
          tags: [family.tag],
          summary: 'Get a store by ID',
          description: `Returns one store.${scopeNote}${read}`,
          params: Store,
          response: { 200: envelopeOf(StoreView, 'Store details'), ...failureResponses },
        },
      },
      async (request, reply) => {
        const store = await core.stores.get(
          callerOf(request),
          tenantOf(request.params),
          request.params.store_id,
        );
        return ok(reply, 200, { result: storeView(store) });
      },
    );

    app.delete(
      `${stores}/:store_id`,
      {
        schema: {
          operationId: op('delete-by-id'),
          tags: [family.tag],
          summary: 'Delete a store',
          description: `Deletes a store. One that still holds secrets answers 409 \`store_not_empty\` unless \`force=true\`, which destroys them too (they cannot be recovered). Answers 200 with ${system ? 'the deleted store' : '`result: null`'}.${scopeNote}${write}`,
          params: Store,
          querystring: StoreDeleteQuery,
          response: {
            200: envelopeOf(system ? StoreView : Type.Null(), 'Store deleted'),
            ...failureResponses,
          },
        },
      },
      async (request, reply) => {
        const { force } = request.query;
        const store = await core.stores.delete(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          { force: force === true },
        );
        // The system contract answers the deleted store.
        return ok(reply, 200, { result: system ? storeView(store) : null });
      },
    );

    app.get(
      secrets,
      {
        schema: {
          operationId: op('secrets-list'),
          tags: [family.tag],
          summary: 'List store secrets',
          description: `Secrets of a store (metadata only, never values), one page at a time; \`search\` matches name or comment case-insensitively, \`scopes\` keeps secrets holding any of them. Default order: created, asc; ties by id.${scopeNote}${read}`,
          params: Store,
          querystring: SecretListQuery,
          response: { 200: listEnvelopeOf(SecretView, 'A page of secrets'), ...failureResponses },
        },
      },
      async (request, reply) => {
        const query = request.query;
        const page = pageRequestOf(query);
        const scopes = scopeFilterOf(query.scopes);
        const found = await core.secrets.listInStore(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          {
            ...(query.search === undefined ? {} : { search: query.search }),
            ...(scopes === undefined ? {} : { scopes }),
            order: query.order ?? 'created',
            direction: query.direction ?? 'asc',
            limit: page.perPage,
            offset: page.offset,
          },
        );
        return ok(reply, 200, {
          result: found.items.map((s) => secretView(s)),
          result_info: resultInfoOf(page, found.items.length, found.total),
        });
      },
    );

    app.post(
      secrets,
      {
        bodyLimit: MANY_VALUES_BODY_LIMIT,
        schema: {
          operationId: op('secret-create'),
          tags: [family.tag],
          summary: 'Create secrets',
          description: `Creates the secrets of an array body, all or none. A name already in the store is 409; a value over 65,536 bytes is 400 \`secret_value_too_long\`. Answers the created secrets (values are never returned).${scopeNote}${write}`,
          params: Store,
          body: SecretCreateBody,
          response: { 200: envelopeOf(Type.Array(SecretView), 'Secrets created'), ...failureResponses },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const created = await core.secrets.createMany(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          body.map((s) => ({
            name: s.name,
            value: s.value,
            scopes: [...new Set(s.scopes)],
            ...(s.comment === undefined ? {} : { description: s.comment }),
          })),
        );
        return ok(reply, 200, { result: created.map((s) => secretView(s)) });
      },
    );

    app.delete(
      secrets,
      {
        schema: {
          operationId: op('delete-bulk'),
          tags: [family.tag],
          summary: 'Delete secrets',
          description: `Destroys the secrets named by \`{ids: [...]}\` (or the older \`[{id}]\`): all exist and go, or 404 and none goes. A missing body is 400. Answers ${system ? '200 with the deleted secrets' : '202 with `result: null`'}.${scopeNote}${write}`,
          params: Store,
          body: BulkDeleteBody,
          response: {
            [system ? 200 : 202]: envelopeOf(
              system ? Type.Array(SecretView) : Type.Null(),
              'Secrets deleted',
            ),
            ...failureResponses,
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const ids = [...new Set(Array.isArray(body) ? body.map((b) => b.id) : body.ids)];
        const deleted = await core.secrets.removeMany(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          ids.map((id) => ({ id })),
        );
        if (!system) return ok(reply, 202, { result: null });
        return ok(reply, 200, { result: deleted.map((s) => secretView(s, true)) });
      },
    );

    app.get(
      `${secrets}/:secret_id`,
      {
        schema: {
          operationId: op('get-by-id'),
          tags: [family.tag],
          summary: 'Get a secret by ID',
          description: `Returns one secret's metadata, never its value.${scopeNote}${read}`,
          params: Secret,
          response: { 200: envelopeOf(SecretView, 'Secret details'), ...failureResponses },
        },
      },
      async (request, reply) => {
        const secret = await core.secrets.get(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          { id: request.params.secret_id },
        );
        return ok(reply, 200, { result: secretView(secret) });
      },
    );

    app.patch(
      `${secrets}/:secret_id`,
      {
        bodyLimit: ONE_VALUE_BODY_LIMIT,
        schema: {
          operationId: op('patch-by-id'),
          tags: [family.tag],
          summary: 'Patch a secret',
          description: `Partial update of \`comment\`, \`scopes\` and \`value\`; a value becomes a new version under a fresh data key.${scopeNote}${write}`,
          params: Secret,
          body: SecretPatchBody,
          response: { 200: envelopeOf(SecretView, 'Secret details'), ...failureResponses },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const secret = await core.secrets.update(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          { id: request.params.secret_id },
          {
            ...(body.comment === undefined ? {} : { description: body.comment }),
            ...(body.scopes === undefined ? {} : { scopes: [...new Set(body.scopes)] }),
            ...(body.value === undefined ? {} : { value: body.value }),
          },
        );
        return ok(reply, 200, { result: secretView(secret) });
      },
    );

    app.delete(
      `${secrets}/:secret_id`,
      {
        schema: {
          operationId: op('secret-delete-by-id'),
          tags: [family.tag],
          summary: 'Delete a secret',
          description: `Destroys one secret and all its versions; it cannot be recovered. Answers ${system ? '200 with the deleted secret' : '202 with `result: null`'}.${scopeNote}${write}`,
          params: Secret,
          response: {
            [system ? 200 : 202]: envelopeOf(system ? SecretView : Type.Null(), 'Secret deleted'),
            ...failureResponses,
          },
        },
      },
      async (request, reply) => {
        const deleted = await core.secrets.remove(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          { id: request.params.secret_id },
        );
        if (!system) return ok(reply, 202, { result: null });
        return ok(reply, 200, { result: secretView(deleted, true) });
      },
    );

    app.post(
      `${secrets}/:secret_id/duplicate`,
      {
        schema: {
          operationId: op('duplicate-by-id'),
          tags: [family.tag],
          summary: 'Duplicate a secret',
          description: `Creates a copy in the same store under a new name, keeping the value (sealed again under the copy's own data key). The comment is the source's unless given.${scopeNote}${write}`,
          params: Secret,
          body: SecretDuplicateBody,
          response: { 200: envelopeOf(SecretView, 'The new secret'), ...failureResponses },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const copy = await core.secrets.duplicate(
          callerOf(request),
          tenantOf(request.params),
          storeRefOf(request.params),
          request.params.secret_id,
          {
            name: body.name,
            scopes: [...new Set(body.scopes)],
            ...(body.comment === undefined ? {} : { description: body.comment }),
          },
        );
        return ok(reply, 200, { result: secretView(copy) });
      },
    );
  };
}
