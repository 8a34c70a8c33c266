import type {
  ApiKeyRecord,
  AuditEventRecord,
  AuditOutcome,
  IssuedTokenRecord,
  SecretRecord,
  SecretSettings,
  ServiceCredentialRecord,
  StoreRecord,
  StoreSettings,
  VersionRecord,
  VersionState,
} from '../core/model.js';
import type {
  DeliveryStatus,
  WebhookDeliveryRecord,
  WebhookRecord,
} from '../core/webhooks/webhook-records.js';

/** A result row as a driver returns it: column name → value. */
export type Row = Record<string, unknown>;

/**
 * How one engine stores the types its driver does not map one to one: integers (BIGINT arrives as a
 * string from pg), booleans (SQLite has 0/1) and string lists (JSON text in SQLite, TEXT[] in
 * PostgreSQL). Each returns undefined for a value that is not of the type.
 */
export interface EngineValues {
  readonly engine: string;
  integer(value: unknown): number | undefined;
  boolean(value: unknown): boolean | undefined;
  strings(value: unknown): string[] | undefined;
}

const deliveryStatus = (v: string): DeliveryStatus | undefined =>
  v === 'pending' || v === 'delivered' || v === 'failed' ? v : undefined;

/**
 * The table rows of the contract, mapped to records the same way by both engines: a column of the
 * wrong type is an error naming the engine and the column, never a silently wrong record.
 */
export function rowMappers(values: EngineValues) {
  const fail = (key: string, type: string): never => {
    throw new Error(`${values.engine}: column ${key} is not ${type}`);
  };
  const str = (row: Row, key: string): string => {
    const v = row[key];
    return typeof v === 'string' ? v : fail(key, 'text');
  };
  const strOrNull = (row: Row, key: string): string | null =>
    row[key] === null || row[key] === undefined ? null : str(row, key);
  const num = (row: Row, key: string): number => values.integer(row[key]) ?? fail(key, 'an integer');
  const numOrNull = (row: Row, key: string): number | null =>
    row[key] === null || row[key] === undefined ? null : num(row, key);
  const bool = (row: Row, key: string): boolean => values.boolean(row[key]) ?? fail(key, 'a boolean');
  const strings = (row: Row, key: string): string[] => values.strings(row[key]) ?? fail(key, 'a list');
  const blob = (row: Row, key: string): Buffer => {
    const v = row[key];
    return Buffer.isBuffer(v) ? v : fail(key, 'binary');
  };

  /** A JSON object of strings (custom metadata); anything else in the column is an error. */
  const stringMap = (row: Row, key: string): Record<string, string> => {
    const parsed: unknown = JSON.parse(str(row, key));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail(key, 'an object');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) out[k] = typeof v === 'string' ? v : fail(key, 'strings');
    return out;
  };

  return {
    num,
    str,
    numOrNull,
    blob,
    bool,
    toSecretSettings: (row: Row): SecretSettings => ({
      maxVersions: num(row, 'max_versions'),
      casRequired: bool(row, 'cas_required'),
      customMetadata: stringMap(row, 'custom_metadata'),
    }),
    toStoreSettings: (row: Row): StoreSettings => ({
      maxVersions: num(row, 'max_versions'),
      casRequired: bool(row, 'cas_required'),
    }),
    toVersionState: (row: Row): VersionState => ({
      version: num(row, 'version'),
      createdAt: num(row, 'created_at'),
      deletedAt: numOrNull(row, 'deleted_at'),
      destroyed: bool(row, 'destroyed'),
    }),
    toApiKey: (row: Row): ApiKeyRecord => ({
      tenantId: str(row, 'tenant_id'),
      name: str(row, 'name'),
      enabled: bool(row, 'enabled'),
      permissions: strings(row, 'permissions'),
      tokenHash: blob(row, 'token_hash'),
      tokenPrefix: str(row, 'token_prefix'),
      createdAt: num(row, 'created_at'),
      updatedAt: num(row, 'updated_at'),
    }),
    toService: (row: Row): ServiceCredentialRecord => ({
      name: str(row, 'name'),
      enabled: bool(row, 'enabled'),
      tokenHash: blob(row, 'token_hash'),
      tokenPrefix: str(row, 'token_prefix'),
      createdAt: num(row, 'created_at'),
    }),
    toStore: (row: Row): StoreRecord => {
      const managedBy = str(row, 'managed_by');
      return {
        id: str(row, 'id'),
        tenantId: str(row, 'tenant_id'),
        name: str(row, 'name'),
        // Stored as '' for an unmanaged store, so that the unique key needs no NULL handling.
        managedBy: managedBy === '' ? null : managedBy,
        createdAt: num(row, 'created_at'),
        updatedAt: num(row, 'updated_at'),
      };
    },
    toSecret: (row: Row): SecretRecord => ({
      id: str(row, 'id'),
      storeId: str(row, 'store_id'),
      name: str(row, 'name'),
      description: strOrNull(row, 'description'),
      scopes: strings(row, 'scopes'),
      notBefore: numOrNull(row, 'not_before'),
      expiresOn: numOrNull(row, 'expires_on'),
      currentVersion: numOrNull(row, 'current_version'),
      latestVersion: num(row, 'latest_version'),
      createdAt: num(row, 'created_at'),
      updatedAt: num(row, 'updated_at'),
    }),
    toVersion: (row: Row): VersionRecord => ({
      secretId: str(row, 'secret_id'),
      version: num(row, 'version'),
      kekId: str(row, 'kek_id'),
      wrappedKey: blob(row, 'wrapped_key'),
      ciphertext: blob(row, 'ciphertext'),
      createdAt: num(row, 'created_at'),
    }),
    toAuditEvent: (row: Row): AuditEventRecord => ({
      chainId: str(row, 'chain_id'),
      tenantId: str(row, 'tenant_id'),
      seq: num(row, 'seq'),
      time: num(row, 'time'),
      actor: str(row, 'actor'),
      action: str(row, 'action'),
      resource: str(row, 'resource'),
      outcome: str(row, 'outcome') as AuditOutcome,
      reason: strOrNull(row, 'reason'),
      requestId: str(row, 'request_id'),
      clientAddress: str(row, 'client_address'),
      prevHash: blob(row, 'prev_hash'),
      hash: blob(row, 'hash'),
    }),
    toWebhook: (row: Row): WebhookRecord => ({
      tenantId: str(row, 'tenant_id'),
      id: str(row, 'id'),
      url: str(row, 'url'),
      eventKinds: strings(row, 'event_kinds'),
      stores: strings(row, 'stores'),
      enabled: bool(row, 'enabled'),
      secretKekId: str(row, 'secret_kek_id'),
      secretWrappedKey: blob(row, 'secret_wrapped_key'),
      secretCiphertext: blob(row, 'secret_ciphertext'),
      secretVersion: num(row, 'secret_version'),
      cursor: str(row, 'feed_cursor'),
      lastDelivery: num(row, 'last_delivery'),
      createdAt: num(row, 'created_at'),
      updatedAt: num(row, 'updated_at'),
    }),
    toWebhookDelivery: (row: Row): WebhookDeliveryRecord => ({
      webhookId: str(row, 'webhook_id'),
      n: num(row, 'n'),
      eventId: str(row, 'event_id'),
      kind: str(row, 'kind'),
      store: str(row, 'store'),
      payload: str(row, 'payload'),
      status: deliveryStatus(str(row, 'status')) ?? fail('status', 'a delivery status'),
      attempts: num(row, 'attempts'),
      lastError: strOrNull(row, 'last_error'),
      lastStatus: numOrNull(row, 'last_status'),
      nextAttemptAt: numOrNull(row, 'next_attempt_at'),
      createdAt: num(row, 'created_at'),
      updatedAt: num(row, 'updated_at'),
    }),
    toIssuedToken: (row: Row): IssuedTokenRecord => ({
      tokenHash: blob(row, 'token_hash'),
      accessor: str(row, 'accessor'),
      tenantId: str(row, 'tenant_id'),
      mount: str(row, 'mount'),
      role: str(row, 'role'),
      subject: str(row, 'subject'),
      permissions: strings(row, 'permissions'),
      ttlMs: num(row, 'ttl_ms'),
      createdAt: num(row, 'created_at'),
      expiresAt: num(row, 'expires_at'),
      maxExpiresAt: num(row, 'max_expires_at'),
      renewedAt: numOrNull(row, 'renewed_at'),
    }),
  };
}
