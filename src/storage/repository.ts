import type {
  ApiKeyRecord,
  AuditEventRecord,
  AuditHead,
  AuditQuery,
  NamePage,
  NamePageQuery,
  SecretListQuery,
  SecretPage,
  SecretRecord,
  SecretValueRow,
  ServiceCredentialRecord,
  StorePage,
  StorePageQuery,
  StoreRecord,
  Tenant,
  VersionCursor,
  VersionRecord,
  WrappedKeyRow,
} from '../core/model.js';

/**
 * The one storage contract. Engines (sqlite/, later postgres/) implement it; the core depends on this
 * file alone. Reads outside a transaction see committed data only. Every write happens inside
 * `transaction`, whose callback receives the handle to run in; a thrown error rolls it back.
 * Inserts that may collide with a concurrent writer return false instead of throwing.
 */
export interface RepositoryReads {
  getTenant(id: string): Promise<Tenant | null>;

  countApiKeys(): Promise<number>;
  findApiKeyByHash(tokenHash: Buffer): Promise<ApiKeyRecord | null>;
  getApiKey(tenantId: string, name: string): Promise<ApiKeyRecord | null>;
  /** Sorted by name (ordinal). */
  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]>;

  findServiceByHash(tokenHash: Buffer): Promise<ServiceCredentialRecord | null>;
  /** Sorted by name. */
  listServices(): Promise<ServiceCredentialRecord[]>;

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

  getSecret(storeId: string, name: string): Promise<SecretRecord | null>;
  getSecretById(storeId: string, id: string): Promise<SecretRecord | null>;
  /** Offset paging in any order (Cloudflare): LIMIT/OFFSET in the engine, never all rows. */
  listSecrets(storeId: string, query: SecretListQuery): Promise<SecretPage>;
  /** A keyset page of a store's secrets by name: one indexed range read of at most `limit + 1` rows. */
  listSecretsByName(storeId: string, query: NamePageQuery): Promise<NamePage<SecretRecord>>;
  countSecretsInStore(storeId: string): Promise<number>;
  /** Secrets of a tenant across all its stores (quota usage). */
  countSecretsInTenant(tenantId: string): Promise<number>;
  getVersion(secretId: string, version: number): Promise<VersionRecord | null>;
  /** Names of the secrets that have a current version, sorted ordinally. */
  listSecretNamesWithValue(storeId: string): Promise<string[]>;
  /** The hot read path: tenant's store by name → secret by name → its current version, in one lookup. */
  getCurrentValue(tenantId: string, storeName: string, secretName: string): Promise<SecretValueRow | null>;
  listVersions(secretId: string): Promise<VersionRecord[]>;

  /** True once any sealed value is stored: a new master key must then never be generated. */
  hasSealedValues(): Promise<boolean>;
  /** Every KEK id that still wraps a stored data key. */
  listKekIdsInUse(): Promise<string[]>;
  /**
   * Up to `limit` versions whose data key is wrapped by `kekId`, ordered by (secretId, version),
   * strictly after `after` when given: master-key rotation walks them in batches with this cursor.
   */
  listWrappedKeys(kekId: string, after: VersionCursor | null, limit: number): Promise<WrappedKeyRow[]>;
  getMeta(key: string): Promise<string | null>;

  /** Events of one chain matching the query, in `direction` of seq, at most `limit`. */
  listAuditEvents(query: AuditQuery): Promise<AuditEventRecord[]>;
  /** The chain's recorded head, or null when the chain has none (no event ever, or the row is gone). */
  getAuditHead(tenantId: string): Promise<AuditHead | null>;
  /** Every chain that has a head or an event, sorted ordinally ('' = the platform chain first). */
  listAuditChains(): Promise<string[]>;
}

export interface RepositoryTx extends RepositoryReads {
  /** Creates the tenant if it does not exist; true when this call created it. */
  ensureTenant(tenant: Tenant): Promise<boolean>;

  /** False when the tenant already has a key of that name. */
  insertApiKey(key: ApiKeyRecord): Promise<boolean>;
  updateApiKey(
    tenantId: string,
    name: string,
    patch: { enabled: boolean; permissions: readonly string[]; updatedAt: number },
  ): Promise<ApiKeyRecord | null>;
  deleteApiKey(tenantId: string, name: string): Promise<boolean>;

  /** False when a service of that name exists. */
  insertService(service: ServiceCredentialRecord): Promise<boolean>;
  setServiceEnabled(name: string, enabled: boolean): Promise<boolean>;
  deleteService(name: string): Promise<ServiceCredentialRecord | null>;

  /** False when the tenant already has a store of that name under the same manager. */
  insertStore(store: StoreRecord): Promise<boolean>;
  /** Destroys the store with all its secrets and versions. */
  deleteStore(storeId: string): Promise<boolean>;

  /** False when the store already holds a secret of that name. */
  insertSecret(secret: SecretRecord): Promise<boolean>;
  updateSecretMetadata(
    secretId: string,
    patch: { description: string | null; scopes: readonly string[]; updatedAt: number },
  ): Promise<void>;
  /** Issues the next version number of a secret (never reused, even after pruning). */
  allocateVersion(secretId: string): Promise<number>;
  insertVersion(version: VersionRecord): Promise<void>;
  /** Makes `version` current and replaces the validity window, in one step. */
  setCurrentVersion(
    secretId: string,
    version: number,
    window: { notBefore: number | null; expiresOn: number | null },
    updatedAt: number,
  ): Promise<void>;
  /** Destroys all but the newest `keep` versions of a secret. */
  pruneVersions(secretId: string, keep: number): Promise<void>;
  /** Destroys the secret and every version of it; false when it did not exist. */
  deleteSecret(storeId: string, secretId: string): Promise<boolean>;

  /**
   * Replaces a version's wrapped data key and KEK id in one step, only while it is still wrapped by
   * `expectedKekId` (compare-and-set): false when the version is gone or was re-wrapped meanwhile.
   * The ciphertext is never touched.
   */
  rewrapVersion(
    secretId: string,
    version: number,
    expectedKekId: string,
    next: { kekId: string; wrappedKey: Buffer },
  ): Promise<boolean>;

  setMeta(key: string, value: string): Promise<void>;

  /**
   * The chain's head, locked until the transaction ends so that writers of one chain append one after
   * another (a linear chain, also across PostgreSQL nodes). Seq 0 and 32 zero bytes for a new chain.
   * Take it last in a transaction: it is the one lock every audited transaction of a tenant shares.
   */
  lockAuditHead(tenantId: string): Promise<AuditHead>;
  /** Appends the event (its seq is the locked head's + 1) and moves the head to it. */
  appendAuditEvent(event: AuditEventRecord): Promise<void>;
}

export interface Repository extends RepositoryReads {
  readonly engine: 'sqlite' | 'postgres';
  transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T>;
  /**
   * Changes (synchronously observable, cheaply) whenever an API key or service credential may have
   * changed anywhere, including in another process or node: caches of key lookups are valid only
   * while it stays the same. NaN when the engine cannot currently tell (nothing is cached then).
   */
  credentialsEpoch(): number;
  /** Throws when the database cannot be reached (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
