import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { callerOf } from '../auth.js';
import { afterOf, nextCursorOf, storeListBinding } from './page-cursor.js';
import {
  CreateStoreBody,
  DEFAULT_PAGE_SIZE,
  DeleteStoreQuery,
  ListQuery,
  StoreParams,
  StorePage,
  StoreSchema,
  TenantParams,
  problems,
} from './v1-schemas.js';
import { storeView } from './v1-views.js';
import { noContent, refTo } from '../response-schemas.js';

/** `/v1/tenants/{tenant}/stores…`: the tenant's own stores (Neostore `default`, envs, Cloudflare). */
export function v1StoreRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/tenants/:tenant/stores',
      {
        schema: {
          operationId: 'v1ListStores',
          tags: ['Native'],
          summary: 'List stores',
          description:
            "The tenant's stores, by name, one page at a time (`prefix`, `limit`, `cursor`). Requires `secrets:read`.",
          params: TenantParams,
          querystring: ListQuery,
          response: { 200: StorePage, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { tenant } = request.params;
        const query = request.query;
        const prefix = query.prefix ?? '';
        const binding = storeListBinding(tenant, prefix);
        // One use case per request: `afterOf`/`nextCursorOf` only open and issue the HMAC cursor
        // (core.pageCursors, a pure computation: no storage, no audit event).
        const page = await core.stores.listByName(callerOf(request), tenant, {
          prefix,
          after: afterOf(core, binding, query.cursor),
          limit: query.limit ?? DEFAULT_PAGE_SIZE,
        });
        return { items: page.items.map(storeView), nextCursor: nextCursorOf(core, binding, page) };
      },
    );

    app.post(
      '/tenants/:tenant/stores',
      {
        schema: {
          operationId: 'v1CreateStore',
          tags: ['Native'],
          summary: 'Create a store',
          description:
            'A new, empty store; a name already taken is 409 `store_name_taken`. Requires `secrets:write`.',
          params: TenantParams,
          body: CreateStoreBody,
          response: {
            201: refTo(StoreSchema, { description: 'The store' }),
            ...problems(400, 401, 403, 404, 409, 415),
          },
        },
      },
      async (request, reply) => {
        const { tenant } = request.params;
        const { name } = request.body;
        const store = await core.stores.create(callerOf(request), tenant, name);
        return reply.code(201).send(storeView(store));
      },
    );

    app.get(
      '/tenants/:tenant/stores/:store',
      {
        schema: {
          operationId: 'v1GetStore',
          tags: ['Native'],
          summary: 'Get a store',
          description: 'A store by id or by URL-encoded name. Requires `secrets:read`.',
          params: StoreParams,
          response: {
            200: refTo(StoreSchema, { description: 'The store' }),
            ...problems(400, 401, 403, 404),
          },
        },
      },
      async (request) => {
        const { tenant, store } = request.params;
        return storeView(await core.stores.getByRef(callerOf(request), tenant, store));
      },
    );

    app.delete(
      '/tenants/:tenant/stores/:store',
      {
        schema: {
          operationId: 'v1DeleteStore',
          tags: ['Native'],
          summary: 'Delete a store',
          description:
            'Deletes an empty store; one holding secrets is 409 `store_not_empty` unless `force=true`, which destroys them. Requires `secrets:write`.',
          params: StoreParams,
          querystring: DeleteStoreQuery,
          response: { 204: noContent('Deleted'), ...problems(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        const { tenant, store } = request.params;
        const { force } = request.query;
        await core.stores.delete(callerOf(request), tenant, { ref: store }, { force: force === true });
        return reply.code(204).send();
      },
    );
  };
}
