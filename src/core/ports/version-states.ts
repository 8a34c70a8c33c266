import type { SecretSettings, StoreSettings, VersionState } from '../model.js';

/**
 * Version lifecycles and settings (docs/adr/0014-vault-facade.md): per-secret settings, per-store
 * defaults, and the soft-deleted or destroyed marks of versions. All rows go with their secret or store.
 */
export interface VersionStateReads {
  /** Null while the secret's settings were never set (the defaults apply). */
  getSecretSettings(secretId: string): Promise<SecretSettings | null>;
  /** Null while the store's settings were never set. */
  getStoreSettings(storeId: string): Promise<StoreSettings | null>;
  /** Both settings that decide how many versions a secret keeps (`versionsKept`), in one read. */
  getVersionSettings(
    secretId: string,
    storeId: string,
  ): Promise<{ secret: SecretSettings | null; store: StoreSettings | null }>;
  /** The marked versions of a secret, by version. */
  listVersionStates(secretId: string): Promise<VersionState[]>;
}

export interface VersionStateWrites {
  putSecretSettings(secretId: string, settings: SecretSettings): Promise<void>;
  putStoreSettings(storeId: string, settings: StoreSettings): Promise<void>;
  /** Inserts or replaces one version's mark. */
  putVersionState(secretId: string, state: VersionState): Promise<void>;
  /** Removes one version's mark (the version is live again). */
  deleteVersionState(secretId: string, version: number): Promise<void>;
  /** Destroys one version's sealed value and data key; false when it had none. */
  destroyVersionValue(secretId: string, version: number): Promise<boolean>;
}
