import type { Tenant } from '../../core/model.js';
import type { TenantAndMetaReads, TenantAndMetaWrites } from '../../core/ports/tenant-and-meta.js';
import type { PostgresConnection } from './postgres-connection.js';
import { str, num } from './postgres-rows.js';

/**
 * Tenants and the instance metadata: the port of src/core/ports/tenant-and-meta.ts
 * on one PostgreSQL connection.
 */
export function postgresTenantAndMetaQueries(
  conn: PostgresConnection,
): TenantAndMetaReads & TenantAndMetaWrites {
  const queries: TenantAndMetaReads & TenantAndMetaWrites = {
    async getTenant(id: string): Promise<Tenant | null> {
      const row = await conn.one('coffer_get_tenant', 'SELECT id, created_at FROM tenants WHERE id = $1', [
        id,
      ]);
      return row ? { id: str(row, 'id'), createdAt: num(row, 'created_at') } : null;
    },
    async getMeta(key: string): Promise<string | null> {
      const row = await conn.one('coffer_get_meta', 'SELECT value FROM coffer_meta WHERE key = $1', [key]);
      return row ? str(row, 'value') : null;
    },
    async ensureTenant(tenant: Tenant): Promise<boolean> {
      const n = await conn.changes(
        'coffer_ensure_tenant',
        'INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
        [tenant.id, tenant.createdAt],
      );
      return n === 1;
    },
    async setMeta(key: string, value: string): Promise<void> {
      await conn.executor.run(
        'coffer_set_meta',
        'INSERT INTO coffer_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [key, value],
      );
    },
  };
  return queries;
}
