import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { refTo } from '../response-schemas.js';
import { VaultErrorSchema } from './vault-errors.js';

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

/**
 * `sys/health` and `sys/seal-status`: unauthenticated, as in Vault. Coffer has no seal (its master
 * key is loaded at start-up), so it is always initialised and unsealed while it answers.
 */
export function vaultSysRoutes(_core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
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
