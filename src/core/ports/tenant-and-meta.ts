import type { Tenant } from '../model.js';

/** Tenants and the instance's key/value metadata (schema facts, the master-key check value). */
export interface TenantAndMetaReads {
  getTenant(id: string): Promise<Tenant | null>;
  getMeta(key: string): Promise<string | null>;
}

export interface TenantAndMetaWrites {
  /** Creates the tenant if it does not exist; true when this call created it. */
  ensureTenant(tenant: Tenant): Promise<boolean>;
  setMeta(key: string, value: string): Promise<void>;
}
