import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { NotFoundError } from '../../core/errors.js';
import type { CofferCore } from '../../core/coffer-core.js';
import type { StoreRecord } from '../../core/model.js';
import { callerOf } from '../auth.js';
import { refTo } from '../response-schemas.js';
import { envelope, tenantOf, VaultResponseSchema } from './vault-envelope.js';
import { VaultErrorSchema } from './vault-errors.js';
import { RESERVED_MOUNTS } from './vault-kv-routes.js';
import { WILDCARD_AS_PATH } from './vault-kv-schemas.js';

/** What Coffer says it is when a Vault client asks: a single, initialised, unsealed, active node. */
const CLUSTER_NAME = 'coffer';
/** The Vault API version whose contract this facade follows (docs/vault.md). */
export const VAULT_API_VERSION = '1.15.0';

const HealthSchema = Type.Object(
  {
    initialized: Type.Boolean(),
    sealed: Type.Boolean(),
    standby: Type.Boolean(),
    performance_standby: Type.Boolean(),
    replication_performance_mode: Type.String(),
    replication_dr_mode: Type.String(),
    server_time_utc: Type.Integer(),
    version: Type.String(),
    cluster_name: Type.String(),
  },
  { additionalProperties: false },
);

const SealStatusSchema = Type.Object(
  {
    type: Type.String(),
    initialized: Type.Boolean(),
    sealed: Type.Boolean(),
    t: Type.Integer(),
    n: Type.Integer(),
    progress: Type.Integer(),
    nonce: Type.String(),
    version: Type.String(),
    build_date: Type.String(),
    migration: Type.Boolean(),
    cluster_name: Type.String(),
    recovery_seal: Type.Boolean(),
    storage_type: Type.String(),
  },
  { additionalProperties: false },
);

const errorResponse = (description: string) => refTo(VaultErrorSchema, { description });

const PreflightParams = Type.Object({
  '*': Type.String({ maxLength: 1024, description: 'A KV path: its first segment is the mount.' }),
});

/**
 * A store as Vault describes a mount: KV version 2, at `{name}/`. A mount not created yet (its first
 * write creates the store) is described the same, without a uuid.
 */
export function mountView(name: string, store: StoreRecord | null) {
  return {
    accessor: store === null ? '' : `kv_${store.id.slice(0, 8)}`,
    config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
    description: '',
    external_entropy_access: false,
    local: false,
    options: { version: '2' },
    path: `${name}/`,
    plugin_version: '',
    running_plugin_version: '',
    seal_wrap: false,
    type: 'kv',
    uuid: store?.id ?? '',
  };
}

/**
 * `sys/health` and `sys/seal-status`: unauthenticated, as in Vault. Coffer has no seal (its master
 * key is loaded at start-up), so it is always initialised and unsealed while it answers.
 */
export function vaultSysRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/sys/internal/ui/mounts/*',
      {
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: 'vaultPreflight',
          tags: ['Vault'],
          summary: 'The mount of a path (the vault CLI’s KV preflight)',
          description:
            'Every mount is a store, KV version 2 (`options.version: "2"`). Requires `secrets:read`.',
          params: PreflightParams,
          response: {
            200: refTo(VaultResponseSchema, { description: 'The mount.' }),
            403: errorResponse('permission denied'),
            404: errorResponse('No mount in the path.'),
          },
        },
      },
      async (request) => {
        const mount = request.params['*'].replace(/^\/+/, '').split('/', 1)[0] ?? '';
        if (mount === '' || RESERVED_MOUNTS.has(mount)) {
          throw new NotFoundError('route_not_found', 'unsupported path');
        }
        const store = await core.kv.mount(callerOf(request), tenantOf(request), mount);
        return envelope(request, mountView(mount, store));
      },
    );

    app.get(
      '/v1/sys/mounts',
      {
        schema: {
          operationId: 'vaultMounts',
          tags: ['Vault'],
          summary: 'List mounts (Vault sys/mounts)',
          description:
            'The tenant’s stores whose names are one path segment, each as a KV version 2 mount. Requires `secrets:read`.',
          response: {
            200: refTo(VaultResponseSchema, { description: 'Mount path → mount.' }),
            403: errorResponse('permission denied'),
          },
        },
      },
      async (request) => {
        const stores = await core.stores.list(callerOf(request), tenantOf(request));
        const mounts = Object.fromEntries(
          stores
            .filter((s) => !s.name.includes('/') && !RESERVED_MOUNTS.has(s.name))
            .map((s) => [`${s.name}/`, mountView(s.name, s)]),
        );
        return envelope(request, mounts);
      },
    );

    app.get(
      '/v1/sys/health',
      {
        config: { anonymous: true },
        schema: {
          operationId: 'vaultHealth',
          tags: ['Vault'],
          summary: 'Health (Vault sys/health)',
          description: 'Always initialised, unsealed and active while the server answers. Takes no token.',
          response: { 200: HealthSchema },
        },
      },
      async () => ({
        initialized: true,
        sealed: false,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(Date.now() / 1000),
        version: VAULT_API_VERSION,
        cluster_name: CLUSTER_NAME,
      }),
    );

    app.get(
      '/v1/sys/seal-status',
      {
        config: { anonymous: true },
        schema: {
          operationId: 'vaultSealStatus',
          tags: ['Vault'],
          summary: 'Seal status (Vault sys/seal-status)',
          description: 'Never sealed: Coffer loads its master key at start-up. Takes no token.',
          response: { 200: SealStatusSchema, 500: errorResponse('An unexpected failure.') },
        },
      },
      async () => ({
        type: 'shamir',
        initialized: true,
        sealed: false,
        t: 1,
        n: 1,
        progress: 0,
        nonce: '',
        version: VAULT_API_VERSION,
        build_date: '',
        migration: false,
        cluster_name: CLUSTER_NAME,
        recovery_seal: false,
        storage_type: 'coffer',
      }),
    );
  };
}
