import type { NamePage, NamePageQuery, StorePage, StorePageQuery, StoreRecord } from '../model.js';

export interface StoreReads {
  /** `managedBy` null finds the tenant's own (unmanaged) store of that name. */
  getStoreByName(tenantId: string, name: string, managedBy: string | null): Promise<StoreRecord | null>;
  getStoreById(tenantId: string, id: string): Promise<StoreRecord | null>;
  /** All stores of a tenant, oldest first (ties by id). */
  listStores(tenantId: string): Promise<StoreRecord[]>;
  /**
   * A keyset page of the tenant's stores under one manager (`managedBy` null: the tenant's own),
   * by name: one indexed range read of at most `limit + 1` rows.
   */
  listStoresByName(
    tenantId: string,
    managedBy: string | null,
    query: NamePageQuery,
  ): Promise<NamePage<StoreRecord>>;
  /** Offset paging of one manager's stores in any order (Cloudflare): LIMIT/OFFSET in the engine. */
  listStoresPage(tenantId: string, managedBy: string | null, query: StorePageQuery): Promise<StorePage>;
  countStores(tenantId: string): Promise<number>;
}

export interface StoreWrites {
  /** False when the tenant already has a store of that name under the same manager. */
  insertStore(store: StoreRecord): Promise<boolean>;
  /** Destroys the store with all its secrets and versions. */
  deleteStore(storeId: string): Promise<boolean>;
}
