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
import type { Repository, RepositoryTx } from './repository.js';

/** Where database timings go (coffer_db_operation_duration_seconds); storage imports no metrics library. */
export interface DbTimer {
  /** `operation` is a Repository method name or `transaction`: a small, fixed set of label values. */
  observeDb(operation: string, seconds: number): void;
}

/**
 * The same Repository contract, timing every call into the engine. Reads outside a transaction are
 * timed one by one; a transaction is timed as a whole (`transaction`, waiting for the writer
 * included) and the calls inside it are not, which keeps the cost to two clock reads per call.
 * `credentialsEpoch` runs on every request and is a memory read: it is passed through untimed.
 *
 * A method added to the contract fails to compile here until it is forwarded: that is on purpose.
 */
export class InstrumentedRepository implements Repository {
  readonly #inner: Repository;
  readonly #timer: DbTimer;

  constructor(inner: Repository, timer: DbTimer) {
    this.#inner = inner;
    this.#timer = timer;
  }

  get engine(): Repository['engine'] {
    return this.#inner.engine;
  }

  async #time<T>(operation: string, run: () => Promise<T>): Promise<T> {
    // The global, not an import of node:perf_hooks: the CLI's bundle would load that for every command.
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.#timer.observeDb(operation, (performance.now() - start) / 1000);
    }
  }

  transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    return this.#time('transaction', () => this.#inner.transaction(fn));
  }

  credentialsEpoch(): number {
    return this.#inner.credentialsEpoch();
  }

  ping(): Promise<void> {
    return this.#time('ping', () => this.#inner.ping());
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  getTenant(id: string): Promise<Tenant | null> {
    return this.#time('getTenant', () => this.#inner.getTenant(id));
  }

  countApiKeys(): Promise<number> {
    return this.#time('countApiKeys', () => this.#inner.countApiKeys());
  }

  findApiKeyByHash(tokenHash: Buffer): Promise<ApiKeyRecord | null> {
    return this.#time('findApiKeyByHash', () => this.#inner.findApiKeyByHash(tokenHash));
  }

  getApiKey(tenantId: string, name: string): Promise<ApiKeyRecord | null> {
    return this.#time('getApiKey', () => this.#inner.getApiKey(tenantId, name));
  }

  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.#time('listApiKeys', () => this.#inner.listApiKeys(tenantId));
  }

  findServiceByHash(tokenHash: Buffer): Promise<ServiceCredentialRecord | null> {
    return this.#time('findServiceByHash', () => this.#inner.findServiceByHash(tokenHash));
  }

  listServices(): Promise<ServiceCredentialRecord[]> {
    return this.#time('listServices', () => this.#inner.listServices());
  }

  getStoreByName(tenantId: string, name: string, managedBy: string | null): Promise<StoreRecord | null> {
    return this.#time('getStoreByName', () => this.#inner.getStoreByName(tenantId, name, managedBy));
  }

  getStoreById(tenantId: string, id: string): Promise<StoreRecord | null> {
    return this.#time('getStoreById', () => this.#inner.getStoreById(tenantId, id));
  }

  listStores(tenantId: string): Promise<StoreRecord[]> {
    return this.#time('listStores', () => this.#inner.listStores(tenantId));
  }

  listStoresByName(
    tenantId: string,
    managedBy: string | null,
    query: NamePageQuery,
  ): Promise<NamePage<StoreRecord>> {
    return this.#time('listStoresByName', () => this.#inner.listStoresByName(tenantId, managedBy, query));
  }

  listStoresPage(tenantId: string, managedBy: string | null, query: StorePageQuery): Promise<StorePage> {
    return this.#time('listStoresPage', () => this.#inner.listStoresPage(tenantId, managedBy, query));
  }

  countStores(tenantId: string): Promise<number> {
    return this.#time('countStores', () => this.#inner.countStores(tenantId));
  }

  getSecret(storeId: string, name: string): Promise<SecretRecord | null> {
    return this.#time('getSecret', () => this.#inner.getSecret(storeId, name));
  }

  getSecretById(storeId: string, id: string): Promise<SecretRecord | null> {
    return this.#time('getSecretById', () => this.#inner.getSecretById(storeId, id));
  }

  listSecrets(storeId: string, query: SecretListQuery): Promise<SecretPage> {
    return this.#time('listSecrets', () => this.#inner.listSecrets(storeId, query));
  }

  listSecretsByName(storeId: string, query: NamePageQuery): Promise<NamePage<SecretRecord>> {
    return this.#time('listSecretsByName', () => this.#inner.listSecretsByName(storeId, query));
  }

  countSecretsInStore(storeId: string): Promise<number> {
    return this.#time('countSecretsInStore', () => this.#inner.countSecretsInStore(storeId));
  }

  countSecretsInTenant(tenantId: string): Promise<number> {
    return this.#time('countSecretsInTenant', () => this.#inner.countSecretsInTenant(tenantId));
  }

  getVersion(secretId: string, version: number): Promise<VersionRecord | null> {
    return this.#time('getVersion', () => this.#inner.getVersion(secretId, version));
  }

  listSecretNamesWithValue(storeId: string): Promise<string[]> {
    return this.#time('listSecretNamesWithValue', () => this.#inner.listSecretNamesWithValue(storeId));
  }

  getCurrentValue(tenantId: string, storeName: string, secretName: string): Promise<SecretValueRow | null> {
    return this.#time('getCurrentValue', () => this.#inner.getCurrentValue(tenantId, storeName, secretName));
  }

  listVersions(secretId: string): Promise<VersionRecord[]> {
    return this.#time('listVersions', () => this.#inner.listVersions(secretId));
  }

  hasSealedValues(): Promise<boolean> {
    return this.#time('hasSealedValues', () => this.#inner.hasSealedValues());
  }

  listAuditEvents(query: AuditQuery): Promise<AuditEventRecord[]> {
    return this.#time('listAuditEvents', () => this.#inner.listAuditEvents(query));
  }
  getAuditHead(tenantId: string): Promise<AuditHead | null> {
    return this.#time('getAuditHead', () => this.#inner.getAuditHead(tenantId));
  }
  listAuditChains(): Promise<string[]> {
    return this.#time('listAuditChains', () => this.#inner.listAuditChains());
  }
  listWrappedKeys(kekId: string, after: VersionCursor | null, limit: number): Promise<WrappedKeyRow[]> {
    return this.#time('listWrappedKeys', () => this.#inner.listWrappedKeys(kekId, after, limit));
  }
  listKekIdsInUse(): Promise<string[]> {
    return this.#time('listKekIdsInUse', () => this.#inner.listKekIdsInUse());
  }

  getMeta(key: string): Promise<string | null> {
    return this.#time('getMeta', () => this.#inner.getMeta(key));
  }
}
