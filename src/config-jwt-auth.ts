import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { type JwtAuthMount, type JwtRole, parseDurationSeconds } from './core/jwt-login.js';
import { isTenantId } from './core/names.js';
import { isKnownPermission, KNOWN_PERMISSION_NAMES } from './core/permissions.js';

/** One login path's issuer (docs/vault.md "Logging in with a JWT"), with its roles. */
export interface JwtMountConfig extends JwtAuthMount {
  /** Tokens' `iss` must equal it. */
  readonly issuer: string;
  /** The JWKS; null: discovered from `{issuer}/.well-known/openid-configuration`. */
  readonly jwksUrl: string | null;
}

/** COFFER_JWT_AUTH / COFFER_JWT_AUTH_FILE, parsed once at start-up. */
export interface JwtAuthConfig {
  readonly mounts: ReadonlyMap<string, JwtMountConfig>;
}

/** Default lifetimes of an issued token: one hour, renewable up to a day. */
export const DEFAULT_TOKEN_TTL_S = 3600;
export const DEFAULT_TOKEN_MAX_TTL_S = 86_400;
/** No issued token lives longer than Vault's default max lease (32 days). */
export const MAX_TOKEN_TTL_S = 768 * 3600;

/** `token` is Vault's token method (lookup-self, …), never a login mount. */
const RESERVED_MOUNTS = new Set(['token']);
const PATH_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ROLE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_ROLES = 1000;
const MOUNT_KEYS = new Set(['oidc_discovery_url', 'jwks_url', 'bound_issuer', 'roles']);
const ROLE_KEYS = new Set([
  'tenant',
  'token_policies',
  'bound_audiences',
  'bound_subject',
  'bound_claims',
  'bound_claims_type',
  'user_claim',
  'token_ttl',
  'token_max_ttl',
  'role_type',
]);

/** The URL check of COFFER_OIDC_*: https, or http on loopback only (tests, development). */
type UrlCheck = (url: URL) => boolean;

class JwtAuthError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(where: string, message: string): never {
  throw new JwtAuthError(`${where}: ${message}`);
}

function unknownKeys(where: string, value: Record<string, unknown>, known: ReadonlySet<string>): void {
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    fail(where, `unknown field ${JSON.stringify(unknown[0])} (known: ${[...known].join(', ')})`);
  }
}

function stringList(where: string, value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((v): v is string => typeof v === 'string' && v !== '')) {
    fail(where, 'must be a non-empty string or a list of non-empty strings');
  }
  return list;
}

function url(where: string, value: unknown, acceptable: UrlCheck): string {
  let parsed: URL | null = null;
  try {
    parsed = typeof value === 'string' ? new URL(value) : null;
  } catch {
    parsed = null;
  }
  if (parsed === null || !acceptable(parsed)) {
    fail(where, 'must be an https:// URL (http:// only on 127.0.0.1, localhost or [::1])');
  }
  return value as string;
}

function duration(where: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = parseDurationSeconds(value);
  if (seconds === null || seconds < 1 || seconds > MAX_TOKEN_TTL_S) {
    fail(where, `must be a duration from 1s to 768h (seconds, or like "15m", "1h30m")`);
  }
  return seconds;
}

function parseRole(where: string, name: string, raw: unknown): JwtRole {
  if (!ROLE_PATTERN.test(name))
    fail(where, 'role names are 1-128 of A-Z a-z 0-9 . _ - (starting alphanumeric)');
  if (!isRecord(raw)) fail(where, 'must be an object');
  unknownKeys(where, raw, ROLE_KEYS);
  if (raw.role_type !== undefined && raw.role_type !== 'jwt') fail(`${where}.role_type`, 'must be "jwt"');
  if (typeof raw.tenant !== 'string' || !isTenantId(raw.tenant)) {
    fail(`${where}.tenant`, 'must be a tenant id (an existing tenant: logins never create one)');
  }
  const permissions = stringList(`${where}.token_policies`, raw.token_policies);
  const unknown = permissions.find((p) => !isKnownPermission(p));
  if (unknown !== undefined) {
    fail(
      `${where}.token_policies`,
      `unknown permission ${JSON.stringify(unknown)} (known: ${KNOWN_PERMISSION_NAMES.join(', ')})`,
    );
  }
  if (raw.bound_audiences === undefined) {
    fail(`${where}.bound_audiences`, 'is required: a token meant for another service must not log in here');
  }
  const boundAudiences = stringList(`${where}.bound_audiences`, raw.bound_audiences);
  const boundClaims = new Map<string, string[]>();
  if (raw.bound_claims !== undefined) {
    if (!isRecord(raw.bound_claims)) fail(`${where}.bound_claims`, 'must be an object of claim → value(s)');
    for (const [claim, values] of Object.entries(raw.bound_claims)) {
      boundClaims.set(claim, stringList(`${where}.bound_claims.${claim}`, values));
    }
  }
  const type = raw.bound_claims_type ?? 'string';
  if (type !== 'string' && type !== 'glob') fail(`${where}.bound_claims_type`, 'must be "string" or "glob"');
  if (
    raw.bound_subject !== undefined &&
    (typeof raw.bound_subject !== 'string' || raw.bound_subject === '')
  ) {
    fail(`${where}.bound_subject`, 'must be a non-empty string');
  }
  if (raw.bound_subject === undefined && boundClaims.size === 0) {
    // A role bound by audience alone admits every workload of the issuer (every repository of
    // GitHub, every service account of a cluster): say which, on purpose.
    fail(where, 'needs bound_subject or bound_claims: audience alone admits every workload of the issuer');
  }
  const userClaim = raw.user_claim ?? 'sub';
  if (typeof userClaim !== 'string' || userClaim === '') fail(`${where}.user_claim`, 'must be a claim name');
  const ttlSeconds = duration(`${where}.token_ttl`, raw.token_ttl, DEFAULT_TOKEN_TTL_S);
  const maxTtlSeconds = duration(
    `${where}.token_max_ttl`,
    raw.token_max_ttl,
    Math.max(ttlSeconds, DEFAULT_TOKEN_MAX_TTL_S),
  );
  if (ttlSeconds > maxTtlSeconds) fail(`${where}.token_ttl`, 'must not exceed token_max_ttl');
  return Object.freeze({
    name,
    tenantId: raw.tenant,
    permissions: [...new Set(permissions)],
    boundAudiences,
    boundSubject: typeof raw.bound_subject === 'string' ? raw.bound_subject : null,
    boundClaims,
    boundClaimsType: type,
    userClaim,
    ttlSeconds,
    maxTtlSeconds,
  });
}

function parseMount(path: string, raw: unknown, acceptable: UrlCheck): JwtMountConfig {
  const where = `mounts.${path}`;
  if (!PATH_PATTERN.test(path) || RESERVED_MOUNTS.has(path)) {
    fail(where, 'mount paths are 1-64 of A-Z a-z 0-9 _ - (starting alphanumeric), and not "token"');
  }
  if (!isRecord(raw)) fail(where, 'must be an object');
  unknownKeys(where, raw, MOUNT_KEYS);
  let issuer: string;
  let jwksUrl: string | null;
  if (raw.oidc_discovery_url !== undefined) {
    if (raw.jwks_url !== undefined) fail(where, 'set oidc_discovery_url or jwks_url, not both');
    issuer = url(`${where}.oidc_discovery_url`, raw.oidc_discovery_url, acceptable);
    if (raw.bound_issuer !== undefined && raw.bound_issuer !== issuer) {
      fail(
        `${where}.bound_issuer`,
        'must equal oidc_discovery_url (the issuer the discovery document names)',
      );
    }
    jwksUrl = null;
  } else if (raw.jwks_url !== undefined) {
    jwksUrl = url(`${where}.jwks_url`, raw.jwks_url, acceptable);
    if (typeof raw.bound_issuer !== 'string' || raw.bound_issuer === '') {
      fail(`${where}.bound_issuer`, 'is required with jwks_url: the issuer tokens must name');
    }
    issuer = raw.bound_issuer;
  } else {
    fail(where, 'needs oidc_discovery_url (the issuer) or jwks_url with bound_issuer');
  }
  if (!isRecord(raw.roles) || Object.keys(raw.roles).length === 0) {
    fail(`${where}.roles`, 'must be an object of at least one role');
  }
  if (Object.keys(raw.roles).length > MAX_ROLES) fail(`${where}.roles`, `at most ${MAX_ROLES} roles`);
  const roles = new Map<string, JwtRole>();
  for (const [name, role] of Object.entries(raw.roles)) {
    roles.set(name, parseRole(`${where}.roles.${name}`, name, role));
  }
  return Object.freeze({ path, issuer, jwksUrl, roles });
}

/** Parses the JSON text of a JWT auth configuration; throws a message naming the faulty field. */
export function parseJwtAuth(text: string, acceptable: UrlCheck): JwtAuthConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new JwtAuthError('not valid JSON');
  }
  if (!isRecord(raw)) fail('(top level)', 'must be an object with "mounts"');
  unknownKeys('(top level)', raw, new Set(['mounts']));
  if (!isRecord(raw.mounts) || Object.keys(raw.mounts).length === 0) {
    fail('mounts', 'must be an object of at least one mount (e.g. "jwt")');
  }
  const mounts = new Map<string, JwtMountConfig>();
  for (const [path, mount] of Object.entries(raw.mounts))
    mounts.set(path, parseMount(path, mount, acceptable));
  return Object.freeze({ mounts });
}

/**
 * COFFER_JWT_AUTH (the JSON itself) or COFFER_JWT_AUTH_FILE (a path to it); neither: no login
 * mounts. Read once at start-up; any fault stops the start with a message naming the field.
 */
export function readJwtAuth(
  text: string | undefined,
  file: string | undefined,
  cwd: string,
  acceptable: UrlCheck,
  error: (message: string) => Error,
): JwtAuthConfig | null {
  if (text !== undefined && file !== undefined) {
    throw error('Set COFFER_JWT_AUTH or COFFER_JWT_AUTH_FILE, not both.');
  }
  let source: string;
  let json: string;
  if (file !== undefined) {
    source = 'COFFER_JWT_AUTH_FILE';
    try {
      json = readFileSync(isAbsolute(file) ? file : resolve(cwd, file), 'utf8');
    } catch {
      throw error(`COFFER_JWT_AUTH_FILE must name a readable JSON file, got ${JSON.stringify(file)}.`);
    }
  } else if (text !== undefined) {
    source = 'COFFER_JWT_AUTH';
    json = text;
  } else {
    return null;
  }
  try {
    return parseJwtAuth(json, acceptable);
  } catch (cause) {
    if (cause instanceof JwtAuthError) throw error(`${source}: ${cause.message}.`);
    throw cause;
  }
}
