import type { ApiKeyRecord, ServiceCredentialRecord } from '../model.js';

/** Credentials: tenants' API keys and the platform's service credentials, found by token hash. */
export interface ApiKeyReads {
  countApiKeys(): Promise<number>;
  findApiKeyByHash(tokenHash: Buffer): Promise<ApiKeyRecord | null>;
  getApiKey(tenantId: string, name: string): Promise<ApiKeyRecord | null>;
  /** Sorted by name (ordinal). */
  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]>;

  findServiceByHash(tokenHash: Buffer): Promise<ServiceCredentialRecord | null>;
  /** Sorted by name. */
  listServices(): Promise<ServiceCredentialRecord[]>;
}

export interface ApiKeyWrites {
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
}
