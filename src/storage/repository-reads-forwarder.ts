import type {
  AuditQuery,
  NamePageQuery,
  SecretListQuery,
  StorePageQuery,
  VersionCursor,
} from '../core/model.js';
import type { RepositoryReads } from '../core/ports/repository.js';

/**
 * The reads of an engine that runs them on a handle of its own (SQLite's reader connection,
 * PostgreSQL's pool): every read outside a transaction is forwarded there. Engines extend this and
 * say where `reads` goes; a new read in the contract is added here once, for both.
 */
export abstract class RepositoryReadsForwarder implements RepositoryReads {
  protected abstract get reads(): RepositoryReads;

  getTenant(id: string) {
    return this.reads.getTenant(id);
  }
  countApiKeys() {
    return this.reads.countApiKeys();
  }
  findApiKeyByHash(tokenHash: Buffer) {
    return this.reads.findApiKeyByHash(tokenHash);
  }
  getApiKey(tenantId: string, name: string) {
    return this.reads.getApiKey(tenantId, name);
  }
  listApiKeys(tenantId: string) {
    return this.reads.listApiKeys(tenantId);
  }
  findServiceByHash(tokenHash: Buffer) {
    return this.reads.findServiceByHash(tokenHash);
  }
  listServices() {
    return this.reads.listServices();
  }
  getStoreByName(tenantId: string, name: string, managedBy: string | null) {
    return this.reads.getStoreByName(tenantId, name, managedBy);
  }
  getStoreById(tenantId: string, id: string) {
    return this.reads.getStoreById(tenantId, id);
  }
  listStores(tenantId: string) {
    return this.reads.listStores(tenantId);
  }
  listStoresByName(tenantId: string, managedBy: string | null, query: NamePageQuery) {
    return this.reads.listStoresByName(tenantId, managedBy, query);
  }
  listStoresPage(tenantId: string, managedBy: string | null, query: StorePageQuery) {
    return this.reads.listStoresPage(tenantId, managedBy, query);
  }
  countStores(tenantId: string) {
    return this.reads.countStores(tenantId);
  }
  getSecret(storeId: string, name: string) {
    return this.reads.getSecret(storeId, name);
  }
  getSecretById(storeId: string, id: string) {
    return this.reads.getSecretById(storeId, id);
  }
  listSecrets(storeId: string, query: SecretListQuery) {
    return this.reads.listSecrets(storeId, query);
  }
  listSecretsByName(storeId: string, query: NamePageQuery) {
    return this.reads.listSecretsByName(storeId, query);
  }
  countSecretsInStore(storeId: string) {
    return this.reads.countSecretsInStore(storeId);
  }
  countSecretsInTenant(tenantId: string) {
    return this.reads.countSecretsInTenant(tenantId);
  }
  getVersion(secretId: string, version: number) {
    return this.reads.getVersion(secretId, version);
  }
  listSecretNamesWithValue(storeId: string) {
    return this.reads.listSecretNamesWithValue(storeId);
  }
  getCurrentValue(tenantId: string, storeName: string, secretName: string) {
    return this.reads.getCurrentValue(tenantId, storeName, secretName);
  }
  listVersions(secretId: string) {
    return this.reads.listVersions(secretId);
  }
  hasSealedValues() {
    return this.reads.hasSealedValues();
  }
  listKekIdsInUse() {
    return this.reads.listKekIdsInUse();
  }
  listWrappedKeys(kekId: string, after: VersionCursor | null, limit: number) {
    return this.reads.listWrappedKeys(kekId, after, limit);
  }
  getMeta(key: string) {
    return this.reads.getMeta(key);
  }
  listAuditEvents(query: AuditQuery) {
    return this.reads.listAuditEvents(query);
  }
  getAuditHead(tenantId: string) {
    return this.reads.getAuditHead(tenantId);
  }
  listAuditChains() {
    return this.reads.listAuditChains();
  }
}
