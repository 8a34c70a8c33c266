import { type Actor, OPERATOR } from '../../src/core/actor.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The expectation table of test/security/auth-matrix.test.ts: one or more cases per route of every
 * facade, each with the exact permissions its contract names (docs/permissions.md, docs/native-api.md,
 * docs/cloudflare.md, docs/envs.md, /work/shared/spec) and the status a caller holding exactly those
 * gets. Written from the contracts, never from what the code answers. The test fails when the app
 * has a route without a case here, or a case names a route the app does not have.
 */

export type Facade = 'neostore' | 'v1' | 'cloudflare' | 'cloudflare-system' | 'envs' | 'vault';

/** The canonical permissions a tenant key can hold (docs/permissions.md), `*` apart. */
export const PERMISSIONS = [
  'secrets:read',
  'secrets:reveal',
  'secrets:write',
  'secrets:set-value',
  'apikeys:read',
  'apikeys:write',
  'audit:read',
] as const;
export type CanonicalPermission = (typeof PERMISSIONS)[number];

/** The tenant every case acts on; `other` owns the foreign key. */
export const TENANT = 'default';
/** The service that manages the system routes' store, and one that manages nothing of it. */
export const SERVICE = 'matrix-svc';
export const OTHER_SERVICE = 'stranger-svc';
/** Stored in every secret the cases touch: must never appear in a refused answer. */
export const CANARY = 'matrix-canary-value-91c4';

export interface CaseRequest {
  readonly path: string;
  readonly body?: unknown;
  /** Headers the request needs besides the credential (a media type). */
  readonly headers?: Record<string, string>;
}

export interface MatrixCase {
  readonly facade: Facade;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The route as Fastify knows it (`/api/:tenantId/secrets/:key`). */
  readonly route: string;
  /** What this case is, when a route has several. */
  readonly label: string;
  /** Exactly what the contract requires for this request (system routes: the managing service). */
  /** `*`: admin-only routes (webhooks), which no named permission opens. */
  readonly needs: readonly (CanonicalPermission | '*')[];
  /** The status with exactly `needs` (system routes: with the managing service). */
  readonly success: number;
  /** Puts the case's targets in place (idempotent; runs again after each accepted request). */
  prepare(ctx: MatrixContext): Promise<CaseRequest>;
}

/** What `prepare` needs: the server, and the operator/service actors to set targets up with. */
export interface MatrixContext {
  readonly server: TestServer;
  /** A unique suffix per case, so cases never share targets. */
  readonly n: number;
}

const asService: Actor = { kind: 'service', serviceName: SERVICE };

async function ensureSecret(ctx: MatrixContext, store: string, name: string): Promise<void> {
  await ctx.server.runtime.core.secrets.putValue(OPERATOR, {
    tenantId: TENANT,
    storeName: store,
    name,
    value: CANARY,
  });
}

async function storeId(ctx: MatrixContext, name: string): Promise<string> {
  const { core } = ctx.server.runtime;
  const found = await core.stores.getByName(OPERATOR, TENANT, name);
  return (found ?? (await core.stores.create(OPERATOR, TENANT, name))).id;
}

async function deleteStoreNamed(ctx: MatrixContext, name: string, managedBy: string | null): Promise<void> {
  const store = await ctx.server.runtime.repository.getStoreByName(TENANT, name, managedBy);
  if (store === null) return;
  await ctx.server.runtime.core.stores.delete(
    managedBy === null ? OPERATOR : asService,
    TENANT,
    { id: store.id },
    {
      force: true,
    },
  );
}

/** A store with one secret holding CANARY; returns both ids. */
async function storeWithSecret(ctx: MatrixContext, store: string, secret: string) {
  const id = await storeId(ctx, store);
  await ensureSecret(ctx, store, secret);
  const record = await ctx.server.runtime.core.secrets.get(OPERATOR, TENANT, { id }, { name: secret });
  return { storeId: id, secretId: record.id };
}

async function dropSecret(ctx: MatrixContext, store: string, name: string): Promise<void> {
  await ctx.server.runtime.core.secrets.delete(OPERATOR, TENANT, name, store);
}

async function ensureKey(ctx: MatrixContext, name: string, permissions: string[]): Promise<void> {
  const { apiKeys } = ctx.server.runtime.core;
  await apiKeys.delete(OPERATOR, TENANT, name).catch(() => undefined);
  await apiKeys.create(OPERATOR, TENANT, { name, permissions });
}

/** The service's own store with one secret, through the service itself (as the system routes make them). */
async function managedStoreWithSecret(ctx: MatrixContext, store: string, secret: string) {
  const { core, repository } = ctx.server.runtime;
  const existing = await repository.getStoreByName(TENANT, store, SERVICE);
  const made = existing ?? (await core.stores.create(asService, TENANT, store));
  const found = await repository.getSecret(made.id, secret);
  const record =
    found ??
    (await core.secrets.createMany(asService, TENANT, { id: made.id }, [{ name: secret, value: CANARY }]))[0];
  if (record === undefined) throw new Error('the managed secret was not created');
  return { storeId: made.id, secretId: record.id };
}

const neo = (
  method: MatrixCase['method'],
  route: string,
  label: string,
  needs: CanonicalPermission[],
  success: number,
  prepare: MatrixCase['prepare'],
): MatrixCase => ({ facade: 'neostore', method, route, label, needs, success, prepare });

const NEOSTORE: MatrixCase[] = [
  neo('GET', '/api/:tenantId/secrets', 'list names', ['secrets:read'], 200, async (ctx) => {
    await ensureSecret(ctx, 'default', `neo${ctx.n}`);
    return { path: `/api/${TENANT}/secrets` };
  }),
  neo('GET', '/api/:tenantId/secrets/:key', 'read a value', ['secrets:reveal'], 200, async (ctx) => {
    await ensureSecret(ctx, 'default', `neo${ctx.n}`);
    return { path: `/api/${TENANT}/secrets/neo${ctx.n}` };
  }),
  neo(
    'PUT',
    '/api/:tenantId/secrets/:key',
    'new value of an existing secret',
    ['secrets:set-value'],
    204,
    async (ctx) => {
      await ensureSecret(ctx, 'default', `neo${ctx.n}`);
      return { path: `/api/${TENANT}/secrets/neo${ctx.n}`, body: { value: 'replaced' } };
    },
  ),
  neo(
    'PUT',
    '/api/:tenantId/secrets/:key',
    'create a secret (docs/permissions.md: set-value plus write)',
    ['secrets:write', 'secrets:set-value'],
    204,
    async (ctx) => {
      await ensureSecret(ctx, 'default', 'neo-anchor'); // the default store exists
      await dropSecret(ctx, 'default', `neo-new${ctx.n}`);
      return { path: `/api/${TENANT}/secrets/neo-new${ctx.n}`, body: { value: 'created' } };
    },
  ),
  neo(
    'PUT',
    '/api/:tenantId/secrets/:key',
    'the first write of the tenant, creating its default store too',
    ['secrets:write', 'secrets:set-value'],
    204,
    async (ctx) => {
      await deleteStoreNamed(ctx, 'default', null);
      return { path: `/api/${TENANT}/secrets/neo-first${ctx.n}`, body: { value: 'created' } };
    },
  ),
  neo('DELETE', '/api/:tenantId/secrets/:key', 'delete', ['secrets:write'], 204, async (ctx) => {
    await ensureSecret(ctx, 'default', `neo${ctx.n}`);
    return { path: `/api/${TENANT}/secrets/neo${ctx.n}` };
  }),
  neo('GET', '/api/:tenantId/admin/apiKeys', 'list keys', ['apikeys:read'], 200, async () => ({
    path: `/api/${TENANT}/admin/apiKeys`,
  })),
  neo('POST', '/api/:tenantId/admin/apiKeys', 'create a key', ['apikeys:write'], 201, async (ctx) => {
    await ctx.server.runtime.core.apiKeys.delete(OPERATOR, TENANT, `made${ctx.n}`).catch(() => undefined);
    return {
      path: `/api/${TENANT}/admin/apiKeys`,
      body: { name: `made${ctx.n}`, permissions: ['apikeys:write'] },
    };
  }),
  neo('GET', '/api/:tenantId/admin/apiKeys/:keyName', 'get a key', ['apikeys:read'], 200, async (ctx) => {
    await ensureKey(ctx, `target${ctx.n}`, ['apikeys:write']);
    return { path: `/api/${TENANT}/admin/apiKeys/target${ctx.n}` };
  }),
  neo(
    'PUT',
    '/api/:tenantId/admin/apiKeys/:keyName',
    'disable a key',
    ['apikeys:write'],
    200,
    async (ctx) => {
      await ensureKey(ctx, `target${ctx.n}`, ['apikeys:write']);
      return { path: `/api/${TENANT}/admin/apiKeys/target${ctx.n}`, body: { enabled: false } };
    },
  ),
  neo(
    'DELETE',
    '/api/:tenantId/admin/apiKeys/:keyName',
    'delete a key',
    ['apikeys:write'],
    204,
    async (ctx) => {
      await ensureKey(ctx, `target${ctx.n}`, ['apikeys:write']);
      return { path: `/api/${TENANT}/admin/apiKeys/target${ctx.n}` };
    },
  ),
  neo('GET', '/api/:tenantId/audit', 'read the trail', ['audit:read'], 200, async () => ({
    path: `/api/${TENANT}/audit`,
  })),
];

const v1 = (
  method: MatrixCase['method'],
  route: string,
  label: string,
  needs: CanonicalPermission[],
  success: number,
  prepare: MatrixCase['prepare'],
): MatrixCase => ({ facade: 'v1', method, route, label, needs, success, prepare });

const V1_BASE = `/v1/tenants/${TENANT}/stores`;

/** Admin-only (`*`) routes of /v1: webhooks (docs/notifications.md). */
const v1Admin = (
  method: MatrixCase['method'],
  route: string,
  label: string,
  success: number,
  prepare: MatrixCase['prepare'],
): MatrixCase => ({ facade: 'v1', method, route, label, needs: ['*'], success, prepare });

const WEBHOOKS_BASE = `/v1/tenants/${TENANT}/webhooks`;
const WEBHOOK_BODY = { url: 'https://hooks.example.com/matrix', eventKinds: ['store.deleted'] };

/** One webhook per case, made again when a case deleted it. */
async function webhookOf(ctx: MatrixContext): Promise<string> {
  const { core, repository } = ctx.server.runtime;
  const known = webhookIds.get(ctx.n);
  if (known !== undefined && (await repository.getWebhook(TENANT, known)) !== null) return known;
  const created = await core.webhooks.create(OPERATOR, TENANT, WEBHOOK_BODY);
  webhookIds.set(ctx.n, created.id);
  return created.id;
}
const webhookIds = new Map<number, string>();

const V1: MatrixCase[] = [
  v1Admin('GET', '/v1/tenants/:tenant/webhooks', 'list webhooks', 200, async () => ({ path: WEBHOOKS_BASE })),
  v1Admin('POST', '/v1/tenants/:tenant/webhooks', 'create a webhook', 201, async () => ({
    path: WEBHOOKS_BASE,
    body: WEBHOOK_BODY,
  })),
  v1Admin('GET', '/v1/tenants/:tenant/webhooks/:webhook', 'get a webhook', 200, async (ctx) => ({
    path: `${WEBHOOKS_BASE}/${await webhookOf(ctx)}`,
  })),
  v1Admin('PUT', '/v1/tenants/:tenant/webhooks/:webhook', 'update a webhook', 200, async (ctx) => ({
    path: `${WEBHOOKS_BASE}/${await webhookOf(ctx)}`,
    body: WEBHOOK_BODY,
  })),
  v1Admin('DELETE', '/v1/tenants/:tenant/webhooks/:webhook', 'delete a webhook', 204, async (ctx) => ({
    path: `${WEBHOOKS_BASE}/${await webhookOf(ctx)}`,
  })),
  v1Admin(
    'POST',
    '/v1/tenants/:tenant/webhooks/:webhook/rotate-secret',
    "rotate a webhook's secret",
    200,
    async (ctx) => ({ path: `${WEBHOOKS_BASE}/${await webhookOf(ctx)}/rotate-secret` }),
  ),
  v1Admin(
    'GET',
    '/v1/tenants/:tenant/webhooks/:webhook/deliveries',
    "read a webhook's delivery log",
    200,
    async (ctx) => ({ path: `${WEBHOOKS_BASE}/${await webhookOf(ctx)}/deliveries` }),
  ),
  v1('GET', '/v1/tenants/:tenant/stores', 'list stores', ['secrets:read'], 200, async () => ({
    path: V1_BASE,
  })),
  v1('POST', '/v1/tenants/:tenant/stores', 'create a store', ['secrets:write'], 201, async (ctx) => {
    await deleteStoreNamed(ctx, `v1-made${ctx.n}`, null);
    return { path: V1_BASE, body: { name: `v1-made${ctx.n}` } };
  }),
  v1('GET', '/v1/tenants/:tenant/events', "watch the tenant's changes", ['secrets:read'], 200, async () => ({
    path: `/v1/tenants/${TENANT}/events`,
  })),
  v1(
    'GET',
    '/v1/tenants/:tenant/stores/:store/events',
    "watch a store's changes",
    ['secrets:read'],
    200,
    async (ctx) => {
      await storeId(ctx, `v1s${ctx.n}`);
      return { path: `${V1_BASE}/v1s${ctx.n}/events` };
    },
  ),
  v1('GET', '/v1/tenants/:tenant/stores/:store', 'get a store', ['secrets:read'], 200, async (ctx) => {
    await storeId(ctx, `v1s${ctx.n}`);
    return { path: `${V1_BASE}/v1s${ctx.n}` };
  }),
  v1('DELETE', '/v1/tenants/:tenant/stores/:store', 'delete a store', ['secrets:write'], 204, async (ctx) => {
    await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
    return { path: `${V1_BASE}/v1s${ctx.n}?force=true` };
  }),
  v1(
    'GET',
    '/v1/tenants/:tenant/stores/:store/secrets',
    'list secrets',
    ['secrets:read'],
    200,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      return { path: `${V1_BASE}/v1s${ctx.n}/secrets` };
    },
  ),
  v1(
    'GET',
    '/v1/tenants/:tenant/stores/:store/secrets/:name',
    'metadata',
    ['secrets:read'],
    200,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      return { path: `${V1_BASE}/v1s${ctx.n}/secrets/S` };
    },
  ),
  v1(
    'GET',
    '/v1/tenants/:tenant/stores/:store/secrets/:name',
    '?reveal=true',
    ['secrets:read', 'secrets:reveal'],
    200,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      return { path: `${V1_BASE}/v1s${ctx.n}/secrets/S?reveal=true` };
    },
  ),
  v1(
    'PUT',
    '/v1/tenants/:tenant/stores/:store/secrets/:name',
    'new value',
    ['secrets:read', 'secrets:set-value'],
    200,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      return { path: `${V1_BASE}/v1s${ctx.n}/secrets/S`, body: { value: 'replaced' } };
    },
  ),
  v1(
    'PUT',
    '/v1/tenants/:tenant/stores/:store/secrets/:name',
    'metadata only',
    ['secrets:read', 'secrets:write'],
    200,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      return { path: `${V1_BASE}/v1s${ctx.n}/secrets/S`, body: { description: 'changed' } };
    },
  ),
  v1(
    'PUT',
    '/v1/tenants/:tenant/stores/:store/secrets/:name',
    'create with a value',
    ['secrets:read', 'secrets:write', 'secrets:set-value'],
    201,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      await dropSecret(ctx, `v1s${ctx.n}`, 'NEW');
      return { path: `${V1_BASE}/v1s${ctx.n}/secrets/NEW`, body: { value: 'created' } };
    },
  ),
  v1(
    'DELETE',
    '/v1/tenants/:tenant/stores/:store/secrets/:name',
    'delete',
    ['secrets:write'],
    204,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      return { path: `${V1_BASE}/v1s${ctx.n}/secrets/S` };
    },
  ),
  v1('POST', '/v1/tenants/:tenant/stores/:store/reveal', 'named', ['secrets:reveal'], 200, async (ctx) => {
    await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
    return { path: `${V1_BASE}/v1s${ctx.n}/reveal`, body: { names: ['S'] } };
  }),
  v1(
    'POST',
    '/v1/tenants/:tenant/stores/:store/reveal',
    'all ({} discloses names)',
    ['secrets:read', 'secrets:reveal'],
    200,
    async (ctx) => {
      await storeWithSecret(ctx, `v1s${ctx.n}`, 'S');
      return { path: `${V1_BASE}/v1s${ctx.n}/reveal`, body: {} };
    },
  ),
];

const cf = (
  method: MatrixCase['method'],
  route: string,
  label: string,
  needs: CanonicalPermission[],
  prepare: MatrixCase['prepare'],
  // The reference (cloudflare-secrets-store.reference.md §1, §3): secret deletes answer 202, the rest 200.
  success = 200,
): MatrixCase => ({ facade: 'cloudflare', method, route, label, needs, success, prepare });

const CF_ACCOUNT = '/client/v4/accounts/:account_id/secrets_store';
const CF_BASE = `/client/v4/accounts/${TENANT}/secrets_store`;
const CF_STORE = `${CF_ACCOUNT}/stores/:store_id`;
const CF_SECRET = `${CF_STORE}/secrets/:secret_id`;

async function cfTargets(ctx: MatrixContext) {
  const ids = await storeWithSecret(ctx, `cf${ctx.n}`, 'S');
  await dropSecret(ctx, `cf${ctx.n}`, 'COPY');
  await dropSecret(ctx, `cf${ctx.n}`, 'NEW');
  return {
    store: `${CF_BASE}/stores/${ids.storeId}`,
    secret: `${CF_BASE}/stores/${ids.storeId}/secrets/${ids.secretId}`,
    ...ids,
  };
}

const CLOUDFLARE: MatrixCase[] = [
  cf('GET', `${CF_ACCOUNT}/quota`, 'quota', ['secrets:read'], async () => ({ path: `${CF_BASE}/quota` })),
  cf('GET', `${CF_ACCOUNT}/stores`, 'list stores', ['secrets:read'], async () => ({
    path: `${CF_BASE}/stores`,
  })),
  cf('POST', `${CF_ACCOUNT}/stores`, 'create a store', ['secrets:write'], async (ctx) => {
    await deleteStoreNamed(ctx, `cf-made${ctx.n}`, null);
    return { path: `${CF_BASE}/stores`, body: { name: `cf-made${ctx.n}` } };
  }),
  cf('GET', CF_STORE, 'get a store', ['secrets:read'], async (ctx) => ({
    path: (await cfTargets(ctx)).store,
  })),
  cf('DELETE', CF_STORE, 'delete a store', ['secrets:write'], async (ctx) => ({
    path: `${(await cfTargets(ctx)).store}?force=true`,
  })),
  cf('GET', `${CF_STORE}/secrets`, 'list secrets', ['secrets:read'], async (ctx) => ({
    path: `${(await cfTargets(ctx)).store}/secrets`,
  })),
  cf(
    'POST',
    `${CF_STORE}/secrets`,
    'create with a value',
    ['secrets:write', 'secrets:set-value'],
    async (ctx) => ({
      path: `${(await cfTargets(ctx)).store}/secrets`,
      body: [{ name: 'NEW', value: 'created', scopes: ['workers'] }],
    }),
  ),
  cf(
    'DELETE',
    `${CF_STORE}/secrets`,
    'bulk delete',
    ['secrets:write'],
    async (ctx) => {
      const t = await cfTargets(ctx);
      return { path: `${t.store}/secrets`, body: { ids: [t.secretId] } };
    },
    202,
  ),
  cf('GET', CF_SECRET, 'get a secret', ['secrets:read'], async (ctx) => ({
    path: (await cfTargets(ctx)).secret,
  })),
  cf('PATCH', CF_SECRET, 'metadata', ['secrets:read', 'secrets:write'], async (ctx) => ({
    path: (await cfTargets(ctx)).secret,
    body: { comment: 'changed' },
  })),
  cf('PATCH', CF_SECRET, 'value', ['secrets:read', 'secrets:set-value'], async (ctx) => ({
    path: (await cfTargets(ctx)).secret,
    body: { value: 'replaced' },
  })),
  cf(
    'DELETE',
    CF_SECRET,
    'delete a secret',
    ['secrets:write'],
    async (ctx) => ({ path: (await cfTargets(ctx)).secret }),
    202,
  ),
  cf('POST', `${CF_SECRET}/duplicate`, 'duplicate', ['secrets:write', 'secrets:set-value'], async (ctx) => ({
    path: `${(await cfTargets(ctx)).secret}/duplicate`,
    body: { name: 'COPY', scopes: ['workers'] },
  })),
];

const sys = (
  method: MatrixCase['method'],
  route: string,
  label: string,
  prepare: MatrixCase['prepare'],
): MatrixCase => ({ facade: 'cloudflare-system', method, route, label, needs: [], success: 200, prepare });

const SYS_ACCOUNT = '/client/v4/system/accounts/:account_tag';
const SYS_BASE = `/client/v4/system/accounts/${TENANT}`;
const SYS_STORE = `${SYS_ACCOUNT}/stores/:store_id`;
const SYS_SECRET = `${SYS_STORE}/secrets/:secret_id`;

async function sysTargets(ctx: MatrixContext) {
  const ids = await managedStoreWithSecret(ctx, `sys${ctx.n}`, 'S');
  for (const name of ['COPY', 'NEW']) {
    const found = await ctx.server.runtime.repository.getSecret(ids.storeId, name);
    if (found !== null)
      await ctx.server.runtime.core.secrets.remove(asService, TENANT, { id: ids.storeId }, { id: found.id });
  }
  return {
    store: `${SYS_BASE}/stores/${ids.storeId}`,
    secret: `${SYS_BASE}/stores/${ids.storeId}/secrets/${ids.secretId}`,
    ...ids,
  };
}

/** Which cases are about one store of the service (another service gets 404 there). */
export const isStoreScoped = (c: MatrixCase): boolean => c.route.includes(':store_id');

const CLOUDFLARE_SYSTEM: MatrixCase[] = [
  sys('GET', `${SYS_ACCOUNT}/stores`, 'list managed stores', async () => ({ path: `${SYS_BASE}/stores` })),
  sys('POST', `${SYS_ACCOUNT}/stores`, 'create a managed store', async (ctx) => {
    await deleteStoreNamed(ctx, `sys-made${ctx.n}`, SERVICE);
    return { path: `${SYS_BASE}/stores`, body: { account_id: 1, name: `sys-made${ctx.n}` } };
  }),
  sys('GET', SYS_STORE, 'get', async (ctx) => ({ path: (await sysTargets(ctx)).store })),
  sys('DELETE', SYS_STORE, 'delete', async (ctx) => ({
    path: `${(await sysTargets(ctx)).store}?force=true`,
  })),
  sys('GET', `${SYS_STORE}/secrets`, 'list secrets', async (ctx) => ({
    path: `${(await sysTargets(ctx)).store}/secrets`,
  })),
  sys('POST', `${SYS_STORE}/secrets`, 'create', async (ctx) => ({
    path: `${(await sysTargets(ctx)).store}/secrets`,
    body: [{ name: 'NEW', value: 'created', scopes: ['workers'] }],
  })),
  sys('DELETE', `${SYS_STORE}/secrets`, 'bulk delete', async (ctx) => {
    const t = await sysTargets(ctx);
    return { path: `${t.store}/secrets`, body: { ids: [t.secretId] } };
  }),
  sys('GET', SYS_SECRET, 'get a secret', async (ctx) => ({ path: (await sysTargets(ctx)).secret })),
  sys('PATCH', SYS_SECRET, 'update', async (ctx) => ({
    path: (await sysTargets(ctx)).secret,
    body: { comment: 'changed', value: 'replaced' },
  })),
  sys('DELETE', SYS_SECRET, 'delete a secret', async (ctx) => ({ path: (await sysTargets(ctx)).secret })),
  sys('POST', `${SYS_SECRET}/duplicate`, 'duplicate', async (ctx) => ({
    path: `${(await sysTargets(ctx)).secret}/duplicate`,
    body: { name: 'COPY', scopes: ['workers'] },
  })),
];

const envs = (
  method: MatrixCase['method'],
  route: string,
  label: string,
  needs: CanonicalPermission[],
  success: number,
  prepare: MatrixCase['prepare'],
): MatrixCase => ({ facade: 'envs', method, route, label, needs, success, prepare });

const ENVS_ROUTE = '/:o/:p/envs/:envName/secrets';
const envsBase = (ctx: MatrixContext) => `/${TENANT}/app/envs/e${ctx.n}/secrets`;

async function envsTargets(ctx: MatrixContext): Promise<string> {
  await ensureSecret(ctx, `app/e${ctx.n}`, 'S');
  await dropSecret(ctx, `app/e${ctx.n}`, 'NEW');
  return envsBase(ctx);
}

const ENVS: MatrixCase[] = [
  envs('GET', ENVS_ROUTE, 'list', ['secrets:read'], 200, async (ctx) => ({ path: await envsTargets(ctx) })),
  envs('POST', ENVS_ROUTE, 'declare', ['secrets:write'], 201, async (ctx) => ({
    path: await envsTargets(ctx),
    body: { kind: 'Secret', name: 'NEW' },
  })),
  envs('GET', `${ENVS_ROUTE}/:name`, 'get', ['secrets:read'], 200, async (ctx) => ({
    path: `${await envsTargets(ctx)}/S`,
  })),
  envs('PUT', `${ENVS_ROUTE}/:name`, 'update', ['secrets:read', 'secrets:write'], 200, async (ctx) => ({
    path: `${await envsTargets(ctx)}/S`,
    body: { kind: 'Secret', name: 'S', description: 'changed' },
  })),
  envs('DELETE', `${ENVS_ROUTE}/:name`, 'delete', ['secrets:write'], 200, async (ctx) => ({
    path: `${await envsTargets(ctx)}/S`,
  })),
  envs('PUT', `${ENVS_ROUTE}/:name/value`, 'set the value', ['secrets:set-value'], 200, async (ctx) => ({
    path: `${await envsTargets(ctx)}/S/value`,
    body: { value: 'replaced' },
  })),
];

const vault = (
  method: MatrixCase['method'],
  route: string,
  label: string,
  needs: CanonicalPermission[],
  success: number,
  prepare: MatrixCase['prepare'],
): MatrixCase => ({ facade: 'vault', method, route, label, needs, success, prepare });

/** The Vault facade's mount (a store of TENANT); every request names TENANT as X-Vault-Namespace. */
const VAULT_MOUNT = 'kvm';
const V = '/vault/v1';
const MERGE_PATCH = { 'content-type': 'application/merge-patch+json' };

/** `kvm/p{n}/s`, holding CANARY as version 1 (and 2 once written again). */
async function kvSecret(ctx: MatrixContext): Promise<string> {
  const { kv } = ctx.server.runtime.core;
  const path = `p${ctx.n}/s`;
  await kv.deleteAll(OPERATOR, TENANT, VAULT_MOUNT, path);
  await kv.write(OPERATOR, TENANT, VAULT_MOUNT, path, { value: CANARY });
  return path;
}

const VAULT_WRITES = ['POST', 'PUT'] as const;

const VAULT: MatrixCase[] = [
  vault('GET', `${V}/:mount/data/*`, 'read the latest version', ['secrets:reveal'], 200, async (ctx) => ({
    path: `${V}/${VAULT_MOUNT}/data/${await kvSecret(ctx)}`,
  })),
  ...VAULT_WRITES.map((method) =>
    vault(method, `${V}/:mount/data/*`, 'a new version', ['secrets:set-value'], 200, async (ctx) => ({
      path: `${V}/${VAULT_MOUNT}/data/${await kvSecret(ctx)}`,
      body: { data: { value: 'replaced' } },
    })),
  ),
  ...VAULT_WRITES.map((method) =>
    vault(
      method,
      `${V}/:mount/data/*`,
      'create a secret (set-value plus write)',
      ['secrets:write', 'secrets:set-value'],
      200,
      async (ctx) => {
        await ctx.server.runtime.core.kv.deleteAll(OPERATOR, TENANT, VAULT_MOUNT, `new${ctx.n}`);
        await kvSecret(ctx); // the mount exists
        return { path: `${V}/${VAULT_MOUNT}/data/new${ctx.n}`, body: { data: { value: 'created' } } };
      },
    ),
  ),
  vault(
    'PATCH',
    `${V}/:mount/data/*`,
    'merge patch (reads, then writes a version)',
    ['secrets:reveal', 'secrets:set-value'],
    200,
    async (ctx) => ({
      path: `${V}/${VAULT_MOUNT}/data/${await kvSecret(ctx)}`,
      body: { data: { extra: 'x' } },
      headers: MERGE_PATCH,
    }),
  ),
  vault('DELETE', `${V}/:mount/data/*`, 'soft-delete the latest', ['secrets:write'], 204, async (ctx) => ({
    path: `${V}/${VAULT_MOUNT}/data/${await kvSecret(ctx)}`,
  })),
  ...VAULT_WRITES.flatMap((method) =>
    (['delete', 'undelete', 'destroy'] as const).map((verb) =>
      vault(method, `${V}/:mount/${verb}/*`, `${verb} versions`, ['secrets:write'], 204, async (ctx) => {
        const path = await kvSecret(ctx);
        if (verb === 'undelete') {
          await ctx.server.runtime.core.kv.deleteVersions(OPERATOR, TENANT, VAULT_MOUNT, path, [1]);
        }
        return { path: `${V}/${VAULT_MOUNT}/${verb}/${path}`, body: { versions: [1] } };
      }),
    ),
  ),
  vault('GET', `${V}/:mount/metadata/*`, 'read metadata', ['secrets:read'], 200, async (ctx) => ({
    path: `${V}/${VAULT_MOUNT}/metadata/${await kvSecret(ctx)}`,
  })),
  vault('GET', `${V}/:mount/metadata/*`, 'list keys (?list=true)', ['secrets:read'], 200, async (ctx) => {
    await kvSecret(ctx);
    return { path: `${V}/${VAULT_MOUNT}/metadata/p${ctx.n}/?list=true` };
  }),
  vault('GET', `${V}/:mount/metadata`, 'list the mount root', ['secrets:read'], 200, async (ctx) => {
    await kvSecret(ctx);
    return { path: `${V}/${VAULT_MOUNT}/metadata?list=true` };
  }),
  ...VAULT_WRITES.map((method) =>
    vault(method, `${V}/:mount/metadata/*`, 'write metadata', ['secrets:write'], 204, async (ctx) => ({
      path: `${V}/${VAULT_MOUNT}/metadata/${await kvSecret(ctx)}`,
      body: { max_versions: 5, custom_metadata: { owner: 'ops' } },
    })),
  ),
  vault('PATCH', `${V}/:mount/metadata/*`, 'patch metadata', ['secrets:write'], 204, async (ctx) => ({
    path: `${V}/${VAULT_MOUNT}/metadata/${await kvSecret(ctx)}`,
    body: { custom_metadata: { owner: 'ops' } },
    headers: MERGE_PATCH,
  })),
  vault('DELETE', `${V}/:mount/metadata/*`, 'delete every version', ['secrets:write'], 204, async (ctx) => ({
    path: `${V}/${VAULT_MOUNT}/metadata/${await kvSecret(ctx)}`,
  })),
  vault('GET', `${V}/:mount/config`, 'read the mount config', ['secrets:read'], 200, async (ctx) => {
    await kvSecret(ctx);
    return { path: `${V}/${VAULT_MOUNT}/config` };
  }),
  ...VAULT_WRITES.map((method) =>
    vault(method, `${V}/:mount/config`, 'configure the mount', ['secrets:write'], 204, async (ctx) => {
      await kvSecret(ctx);
      return { path: `${V}/${VAULT_MOUNT}/config`, body: { max_versions: 10 } };
    }),
  ),
  vault('GET', `${V}/sys/internal/ui/mounts/*`, 'the CLI preflight', ['secrets:read'], 200, async (ctx) => ({
    path: `${V}/sys/internal/ui/mounts/${VAULT_MOUNT}/${await kvSecret(ctx)}`,
  })),
  vault('GET', `${V}/sys/mounts`, 'list mounts', ['secrets:read'], 200, async (ctx) => {
    await kvSecret(ctx);
    return { path: `${V}/sys/mounts` };
  }),
];

export const MATRIX: readonly MatrixCase[] = [
  ...NEOSTORE,
  ...V1,
  ...CLOUDFLARE,
  ...CLOUDFLARE_SYSTEM,
  ...ENVS,
  ...VAULT,
];

/**
 * Routes that take no credential by design, so they have no row in the matrix: probes, metrics
 * (its own token, test/observability), the OpenAPI document, the console's static files (the
 * console calls the facades with the user's key), and the catch-all that answers unknown paths.
 */
export const PUBLIC_ROUTES: readonly string[] = [
  // The root redirects to the console.
  'GET /',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /ui',
  'GET /ui/',
  'GET /ui/stores',
  'GET /ui/stores/:store',
  'GET /ui/keys',
  'GET /ui/webhooks',
  'GET /ui/audit',
  'GET /ui/assets/:file',
  // Vault's unauthenticated status routes (vault status, load balancers).
  'GET /vault/v1/sys/health',
  'GET /vault/v1/sys/seal-status',
  // JWT logins take a JWT, not a token: refused logins, their audit and rate limit are tested in
  // test/vault/vault-auth.test.ts.
  'POST /vault/v1/auth/:mount/login',
  'PUT /vault/v1/auth/:mount/login',
];

/**
 * A token's routes about itself: they need no permission (every tenant credential may ask what it
 * is, and renew or revoke itself), which this matrix, built on "exactly the needed permissions",
 * cannot state. test/vault/vault-auth.test.ts runs them with every kind of caller instead (none,
 * malformed, unknown, disabled, deleted, expired, revoked, service → 403; any tenant key → itself).
 */
export const SELF_ROUTES: readonly string[] = [
  'GET /vault/v1/auth/token/lookup-self',
  'POST /vault/v1/auth/token/lookup-self',
  'POST /vault/v1/auth/token/renew-self',
  'PUT /vault/v1/auth/token/renew-self',
  'POST /vault/v1/auth/token/revoke-self',
  'PUT /vault/v1/auth/token/revoke-self',
];

/**
 * The catch-alls (every method) that answer unknown routes: `*`, envs' (in the owning facade's shape),
 * and `/*`, the root's not-found handler (problem+json 404, or 405 with `Allow`).
 */
export const CATCH_ALLS: readonly string[] = ['*', '/*'];
