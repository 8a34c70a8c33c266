import type { Tenant } from '../../core/model.js';
import type { TenantAndMetaReads, TenantAndMetaWrites } from '../../core/ports/tenant-and-meta.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { str, num } from './sqlite-rows.js';

/**
 * Tenants and the instance metadata: the port of src/core/ports/tenant-and-meta.ts
 * on one SQLite connection.
 */
export function sqliteTenantAndMetaQueries(conn: SqliteConnection): TenantAndMetaReads & TenantAndMetaWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    getTenant: p('SELECT id, created_at FROM tenants WHERE id = ?'),
    getMeta: p('SELECT value FROM coffer_meta WHERE key = ?').pluck(),
    ensureTenant: p('INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING'),
    setMeta: p(
      'INSERT INTO coffer_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
  };
  const queries: TenantAndMetaReads & TenantAndMetaWrites = {
    async getTenant(id: string): Promise<Tenant | null> {
      const row = stmt.getTenant.get(id) as Row | undefined;
      return row ? { id: str(row, 'id'), createdAt: num(row, 'created_at') } : null;
    },
    async getMeta(key: string): Promise<string | null> {
      const v = stmt.getMeta.get(key);
      return typeof v === 'string' ? v : null;
    },
    async ensureTenant(tenant: Tenant): Promise<boolean> {
      return stmt.ensureTenant.run(tenant.id, tenant.createdAt).changes === 1;
    },
    async setMeta(key: string, value: string): Promise<void> {
      stmt.setMeta.run(key, value);
    },
  };
  return queries;
}
