import type { RepositoryReads } from '../core/ports/repository.js';
import { forwardingClass } from './forwarding-class.js';

/** Every read of the contract, once: a read added to a port fails to compile here until listed. */
export const repositoryReadMethods: Readonly<Record<keyof RepositoryReads, true>> = {
  getTenant: true,
  getMeta: true,
  countApiKeys: true,
  findApiKeyByHash: true,
  getApiKey: true,
  listApiKeys: true,
  findServiceByHash: true,
  listServices: true,
  getStoreByName: true,
  getStoreById: true,
  listStores: true,
  listStoresByName: true,
  listStoresPage: true,
  countStores: true,
  getSecret: true,
  getSecretById: true,
  listSecrets: true,
  listSecretsByName: true,
  countSecretsInStore: true,
  countSecretsInTenant: true,
  getVersion: true,
  listSecretNamesWithValue: true,
  getCurrentValue: true,
  listVersions: true,
  hasSealedValues: true,
  listKekIdsInUse: true,
  listWrappedKeys: true,
  getSecretSettings: true,
  getStoreSettings: true,
  getVersionSettings: true,
  listVersionStates: true,
  listAuditEvents: true,
  getAuditHead: true,
  listAuditChains: true,
  getWebhook: true,
  listWebhooks: true,
  listActiveWebhooks: true,
  listWebhookDeliveries: true,
  listPendingHeads: true,
  countPendingDeliveries: true,
  nextPendingDelivery: true,
  listTenantAuditEvents: true,
  findIssuedTokenByHash: true,
  getIssuedToken: true,
  getLatestAuditCheckpoint: true,
  getAuditCheckpointSince: true,
  getAuditPrunePoint: true,
};

/**
 * The base of an engine that runs reads outside a transaction on a handle of its own (SQLite's reader
 * connection, PostgreSQL's pool): `super(handle)` forwards every read there.
 */
export const RepositoryReadsForwarder = forwardingClass<RepositoryReads, keyof RepositoryReads>(
  repositoryReadMethods,
);
