import type {
  NamePage,
  NamePageQuery,
  SecretListQuery,
  SecretPage,
  SecretRecord,
  SecretValueRow,
  VersionCursor,
  VersionRecord,
  WrappedKeyRow,
} from '../model.js';

/** Secrets, their versions, and the wrapped data keys of those versions (master-key rotation). */
export interface SecretReads {
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
}

export interface SecretWrites {
  /** False when the store already holds a secret of that name. */
  insertSecret(secret: SecretRecord): Promise<boolean>;
  updateSecretMetadata(
    secretId: string,
    patch: { description: string | null; scopes: readonly string[]; updatedAt: number },
  ): Promise<void>;
  /**
   * Issues the next version number of a secret (never reused, even after pruning). A value write then
   * calls `insertCurrentVersion`; `insertVersion`, `setCurrentVersion` (also used alone, for a window)
   * and `pruneVersions` are its single steps, each part of the contract on its own.
   */
  allocateVersion(secretId: string): Promise<number>;
  insertVersion(version: VersionRecord): Promise<void>;
  /** Makes `version` current (null: none readable) and replaces the validity window, in one step. */
  setCurrentVersion(
    secretId: string,
    version: number | null,
    window: { notBefore: number | null; expiresOn: number | null },
    updatedAt: number,
  ): Promise<void>;
  /**
   * Destroys every version (and its state) more than `keep` below the newest version number
   * issued: the newest `keep` version numbers stay, destroyed or not.
   */
  pruneVersions(secretId: string, keep: number): Promise<void>;
  /**
   * A new version made current, in one step (one round trip on PostgreSQL): `insertVersion(version)`,
   * `setCurrentVersion(version.secretId, version.version, window, version.createdAt)`, then
   * `pruneVersions(version.secretId, keep)`. `keep` is at least 1, so the new version always stays.
   */
  insertCurrentVersion(
    version: VersionRecord,
    window: { notBefore: number | null; expiresOn: number | null },
    keep: number,
  ): Promise<void>;
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
}
