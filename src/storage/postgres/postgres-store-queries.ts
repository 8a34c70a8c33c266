import type { NamePage, NamePageQuery, StorePage, StorePageQuery, StoreRecord } from '../../core/model.js';
import type { StoreReads, StoreWrites } from '../../core/ports/stores.js';
import type { PostgresConnection } from './postgres-connection.js';
import { namePage } from './postgres-name-page.js';
import { num, toStore, STORE_COLUMNS } from './postgres-rows.js';

const STORE_ORDER_COLUMNS: Record<StorePageQuery['order'], string> = {
  name: 'name',
  created: 'created_at',
  modified: 'updated_at',
};

/**
 * Stores: the port of src/core/ports/stores.ts
 * on one PostgreSQL connection.
 */
export function postgresStoreQueries(conn: PostgresConnection): StoreReads & StoreWrites {
  const queries: StoreReads & StoreWrites = {
    async getStoreByName(
      tenantId: string,
      name: string,
      managedBy: string | null,
    ): Promise<StoreRecord | null> {
      const row = await conn.one(
        'coffer_get_store_by_name',
        `SELECT ${STORE_COLUMNS} FROM stores WHERE tenant_id = $1 AND managed_by = $2 AND name = $3`,
        [tenantId, managedBy ?? '', name],
      );
      return row ? toStore(row) : null;
    },
    async getStoreById(tenantId: string, id: string): Promise<StoreRecord | null> {
      const row = await conn.one(
        'coffer_get_store_by_id',
        `SELECT ${STORE_COLUMNS} FROM stores WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      );
      return row ? toStore(row) : null;
    },
    async listStores(tenantId: string): Promise<StoreRecord[]> {
      const rows = await conn.all(
        'coffer_list_stores',
        `SELECT ${STORE_COLUMNS} FROM stores WHERE tenant_id = $1 ORDER BY created_at, id`,
        [tenantId],
      );
      return rows.map(toStore);
    },
    async listStoresByName(
      tenantId: string,
      managedBy: string | null,
      q: NamePageQuery,
    ): Promise<NamePage<StoreRecord>> {
      const rows = await namePage(
        conn,
        'stores',
        STORE_COLUMNS,
        'tenant_id = $1 AND managed_by = $2',
        [tenantId, managedBy ?? ''],
        q,
      );
      return { items: rows.slice(0, q.limit).map(toStore), more: rows.length > q.limit };
    },
    async listStoresPage(tenantId: string, managedBy: string | null, q: StorePageQuery): Promise<StorePage> {
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      // The total comes from the same statement (one snapshot), computed before LIMIT applies.
      const rows = await conn.all(
        null,
        `SELECT ${STORE_COLUMNS}, count(*) OVER () AS total FROM stores WHERE tenant_id = $1 AND managed_by = $2
          ORDER BY ${STORE_ORDER_COLUMNS[q.order]} ${dir}, id ${dir} LIMIT $3 OFFSET $4`,
        [tenantId, managedBy ?? '', q.limit, q.offset],
      );
      const first = rows[0];
      if (first !== undefined) return { items: rows.map(toStore), total: num(first, 'total') };
      // A page past the end holds no row to carry the total.
      const total = await conn.count(
        'coffer_count_managed_stores',
        'SELECT count(*) AS n FROM stores WHERE tenant_id = $1 AND managed_by = $2',
        [tenantId, managedBy ?? ''],
      );
      return { items: [], total };
    },
    async countStores(tenantId: string): Promise<number> {
      await conn.lockTenant(tenantId);
      return conn.count('coffer_count_stores', 'SELECT count(*) AS n FROM stores WHERE tenant_id = $1', [
        tenantId,
      ]);
    },
    async insertStore(s: StoreRecord): Promise<boolean> {
      const n = await conn.changes(
        'coffer_insert_store',
        `INSERT INTO stores (id, tenant_id, name, managed_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [s.id, s.tenantId, s.name, s.managedBy ?? '', s.createdAt, s.updatedAt],
      );
      return n === 1;
    },
    async deleteStore(storeId: string): Promise<boolean> {
      // Secrets and their versions go with it (ON DELETE CASCADE).
      return (await conn.changes('coffer_delete_store', 'DELETE FROM stores WHERE id = $1', [storeId])) === 1;
    },
  };
  return queries;
}
