import { InvalidError } from './errors.js';

/** Tenant ids are shared by every facade: Neostore tenantId = Cloudflare account_id = envs org. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Secret names, as Neostore's later revision and Cloudflare allow: letters, digits, `-` and `_`. */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9_-]{1,127}$/;
export const SECRET_NAME_MAX = 127;
/** API key names as the Neostore API-keys contract: alphanumerics, hyphens, underscores and dots. */
export const API_KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Store names: the Neostore `default`, Cloudflare store names, envs `{project}/{env}`. */
export const STORE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;

/** The store that the Neostore facade reads and writes. */
export const DEFAULT_STORE_NAME = 'default';
/** A secret value's size limit in UTF-8 bytes (Neostore and Cloudflare agree on 64 KiB). */
export const MAX_VALUE_BYTES = 65_536;

export function isTenantId(value: string): boolean {
  return TENANT_ID_PATTERN.test(value);
}

export function assertSecretName(name: string, field = 'key'): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw InvalidError.field(
      'invalid_secret_name',
      field,
      `The secret name must be 1-${SECRET_NAME_MAX} characters of A-Z, a-z, 0-9, '-' or '_'.`,
    );
  }
}

/**
 * A secret's name as a Vault KV path: segments of A-Z a-z 0-9 '.' '_' '-' (never '.' or '..') joined
 * by '/', at most 255 characters. Every SECRET_NAME_PATTERN name is one (docs/adr/0014-vault-facade.md).
 */
export const SECRET_PATH_MAX = 255;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

export function isSecretPath(path: string): boolean {
  if (path.length === 0 || path.length > SECRET_PATH_MAX) return false;
  return path.split('/').every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..');
}

export function assertSecretPath(path: string, field = 'path'): void {
  if (!isSecretPath(path)) {
    throw InvalidError.field(
      'invalid_secret_name',
      field,
      `The secret path must be 1-${SECRET_PATH_MAX} characters: segments of A-Z, a-z, 0-9, '.', '-' or '_' (not '.' or '..') joined by '/'.`,
    );
  }
}

export function assertApiKeyName(name: string, field = 'name'): void {
  if (!API_KEY_NAME_PATTERN.test(name)) {
    throw InvalidError.field(
      'invalid_api_key_name',
      field,
      "The key name must be 1-64 characters of A-Z, a-z, 0-9, '.', '-' or '_'.",
    );
  }
}

export function assertTenantId(tenantId: string, field = 'tenant'): void {
  if (!isTenantId(tenantId)) {
    throw InvalidError.field(
      'invalid_tenant_id',
      field,
      "The tenant id must be 1-64 characters of A-Z, a-z, 0-9, '.', '-' or '_', starting with a letter or digit.",
    );
  }
}

export function assertStoreName(name: string, field = 'store'): void {
  if (!STORE_NAME_PATTERN.test(name) || name.includes('//') || name.endsWith('/')) {
    throw InvalidError.field('invalid_store_name', field, 'The store name is not valid.');
  }
}

export function assertValueSize(value: string, field = 'value'): void {
  // Cheap upper bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (value.length * 3 > MAX_VALUE_BYTES && Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
    throw InvalidError.field(
      'secret_value_too_long',
      field,
      `The value must be at most ${MAX_VALUE_BYTES} bytes in UTF-8.`,
    );
  }
}
