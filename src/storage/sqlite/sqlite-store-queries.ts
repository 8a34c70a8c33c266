import type { NamePage, NamePageQuery, StorePage, StorePageQuery, StoreRecord } from '../../core/model.js';
import type { StoreReads, StoreWrites } from '../../core/ports/stores.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { namePage } from './sqlite-name-page.js';
import { toStore } from './sqlite-rows.js';

const STORE_ORDER_COLUMNS: Record<StorePageQuery['order'], string> = {
  name: 'name',
  created: 'created_at',
  modified: 'updated_at',
};

/**
 * Stores: the port of src/core/ports/stores.ts
 * on one SQLite connection.
 */
export function sqliteStoreQueries(conn: SqliteConnection): StoreReads & StoreWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    getStoreByName: p('SELECT * FROM stores WHERE tenant_id = ? AND managed_by = ? AND name = ?'),
    getStoreById: p('SELECT * FROM stores WHERE tenant_id = ? AND id = ?'),
    listStores: p('SELECT * FROM stores WHERE tenant_id = ? ORDER BY created_at, id'),
    countStores: p('SELECT count(*) FROM stores WHERE tenant_id = ?').pluck(),
    insertStore: p(
      `INSERT INTO stores (id, tenant_id, name, managed_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    deleteStoreVersions: p(
      'DELETE FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE store_id = ?)',
    ),
    deleteStoreSecrets: p('DELETE FROM secrets WHERE store_id = ?'),
    deleteStore: p('DELETE FROM stores WHERE id = ?'),
  };
  const queries: StoreReads & StoreWrites = {
    async getStoreByName(
      tenantId: string,
      name: string,
      managedBy: string | null,
    ): Promise<StoreRecord | null> {
      const row = stmt.getStoreByName.get(tenantId, managedBy ?? '', name) as Row | undefined;
      return row ? toStore(row) : null;
    },
    async getStoreById(tenantId: string, id: string): Promise<StoreRecord | null> {
      const row = stmt.getStoreById.get(tenantId, id) as Row | undefined;
      return row ? toStore(row) : null;
    },
    async listStores(tenantId: string): Promise<StoreRecord[]> {
      return (stmt.listStores.all(tenantId) as Row[]).map(toStore);
    },
    async listStoresByName(
      tenantId: string,
      managedBy: string | null,
      q: NamePageQuery,
    ): Promise<NamePage<StoreRecord>> {
      const rows = namePage(
        conn,
        'stores',
        'tenant_id = ? AND managed_by = ?',
        [tenantId, managedBy ?? ''],
        q,
      );
      return { items: rows.slice(0, q.limit).map(toStore), more: rows.length > q.limit };
    },
    async listStoresPage(tenantId: string, managedBy: string | null, q: StorePageQuery): Promise<StorePage> {
      const args = [tenantId, managedBy ?? ''];
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      const total = conn
        .prepared('SELECT count(*) FROM stores WHERE tenant_id = ? AND managed_by = ?')
        .pluck()
        .get(...args) as number;
      const rows = conn
        .prepared(
          `SELECT * FROM stores WHERE tenant_id = ? AND managed_by = ?
          ORDER BY ${STORE_ORDER_COLUMNS[q.order]} ${dir}, id ${dir} LIMIT ? OFFSET ?`,
        )
        .all(...args, q.limit, q.offset) as Row[];
      return { items: rows.map(toStore), total };
    },
    async countStores(tenantId: string): Promise<number> {
      return stmt.countStores.get(tenantId) as number;
    },
    async insertStore(s: StoreRecord): Promise<boolean> {
      const r = stmt.insertStore.run(s.id, s.tenantId, s.name, s.managedBy ?? '', s.createdAt, s.updatedAt);
      return r.changes === 1;
    },
    async deleteStore(storeId: string): Promise<boolean> {
      if (stmt.deleteStoreVersions.run(storeId).changes > 0) conn.sealedBytesRemoved = true;
      stmt.deleteStoreSecrets.run(storeId);
      return stmt.deleteStore.run(storeId).changes === 1;
    },
  };
  return queries;
}
