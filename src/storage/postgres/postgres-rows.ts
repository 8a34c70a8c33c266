import { rowMappers } from '../row-mappers.js';

/** BIGINT arrives as a string (node-postgres keeps 64-bit precision); epoch-ms fits a double exactly. */
export const {
  str,
  num,
  numOrNull,
  blob,
  bool,
  toApiKey,
  toService,
  toStore,
  toSecret,
  toVersion,
  toAuditEvent,
  toWebhook,
  toWebhookDelivery,
  toSecretSettings,
  toStoreSettings,
  toVersionState,
  toIssuedToken,
} = rowMappers({
  engine: 'postgres',
  integer: (v) => {
    const n = typeof v === 'string' ? Number(v) : v;
    return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
  },
  boolean: (v) => (typeof v === 'boolean' ? v : undefined),
  strings: (v) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined),
});

// Explicit column lists, never `*`: a prepared `SELECT *` fails on a node still running when a later
// migration adds a column ("cached plan must not change result type").
export const API_KEY_COLUMNS =
  'tenant_id, name, token_hash, token_prefix, enabled, permissions, created_at, updated_at';
export const SERVICE_COLUMNS = 'name, token_hash, token_prefix, enabled, created_at';
export const STORE_COLUMNS = 'id, tenant_id, name, managed_by, created_at, updated_at';
export const VERSION_COLUMNS = 'secret_id, version, kek_id, wrapped_key, ciphertext, created_at';
export const AUDIT_COLUMNS =
  'chain_id, seq, tenant_id, time, actor, action, resource, outcome, reason, request_id, client_address, prev_hash, hash';
export const SECRET_COLUMNS =
  'id, store_id, name, description, scopes, not_before, expires_on, current_version, latest_version, created_at, updated_at';
export const WEBHOOK_COLUMNS =
  'id, tenant_id, url, event_kinds, stores, enabled, secret_kek_id, secret_wrapped_key, secret_ciphertext, secret_version, feed_cursor, last_delivery, created_at, updated_at';
export const DELIVERY_COLUMNS =
  'webhook_id, n, event_id, kind, store, payload, status, attempts, last_error, last_status, next_attempt_at, created_at, updated_at';
export const ISSUED_TOKEN_COLUMNS =
  'token_hash, accessor, tenant_id, mount, role, subject, permissions, ttl_ms, created_at, expires_at, max_expires_at, renewed_at';
