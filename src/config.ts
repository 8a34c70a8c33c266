import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { AnchorKeyError, readAnchorPrivateKey } from './crypto/anchor-key.js';
import { DEFAULT_LIMITS } from './core/coffer-core.js';
import { KEK_BYTES } from './crypto/keyring.js';
import { type JwtAuthConfig, readJwtAuth } from './config-jwt-auth.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** COFFER_LOG_FORMAT: `auto` (default) is `pretty` when stdout is a terminal, `json` otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** OIDC bearer tokens (docs/oidc.md): on only when both COFFER_OIDC_ISSUER and COFFER_OIDC_AUDIENCE are set. */
export interface OidcConfig {
  /** COFFER_OIDC_ISSUER: must equal the tokens' `iss`; https (http only on loopback, for tests). */
  readonly issuer: string;
  /** COFFER_OIDC_AUDIENCE: must be one of the tokens' `aud`. */
  readonly audience: string;
  /** COFFER_OIDC_JWKS_URL; null: discovered from `{issuer}/.well-known/openid-configuration`. */
  readonly jwksUrl: string | null;
  /** COFFER_OIDC_TENANT_CLAIM (default `coffer_tenant`): a top-level claim holding the tenant id. */
  readonly tenantClaim: string;
  /** COFFER_OIDC_PERMISSIONS_CLAIM (default `coffer_permissions`): an array or a space-separated string. */
  readonly permissionsClaim: string;
}

/** Signed checkpoints of the audit chains (docs/audit.md, "Anchors"): on when COFFER_AUDIT_ANCHOR_KEY is set. */
export interface AuditAnchorsConfig {
  /** COFFER_AUDIT_ANCHOR_KEY: the Ed25519 private key file (PEM), outside the data directory. */
  readonly keyFile: string;
  /** The key, read and checked at start-up. */
  readonly privateKey: KeyObject;
  /** COFFER_AUDIT_ANCHOR_FILE: the JSON-lines file checkpoints are appended to; null: none. */
  readonly file: string | null;
  /** COFFER_AUDIT_ANCHOR_STDOUT=1: `coffer serve` also writes each checkpoint to stdout. */
  readonly stdout: boolean;
  /** COFFER_AUDIT_ANCHOR_INTERVAL (default 1h): how often `coffer serve` checkpoints; 0: on demand only. */
  readonly intervalMs: number;
}

/** Everything Coffer reads from its environment, parsed once at start-up. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Holds the key file (unless COFFER_MASTER_KEY is set) and, without COFFER_DATABASE_URL, the SQLite database. */
  readonly dataDir: string;
  /** COFFER_DATABASE_URL (postgres:// or postgresql://): PostgreSQL instead of the embedded SQLite. */
  readonly databaseUrl: string | null;
  readonly logLevel: LogLevel;
  /** COFFER_LOG_FORMAT: one JSON object per line, one readable line per entry, or by terminal (auto). */
  readonly logFormat: LogFormat;
  /** From COFFER_MASTER_KEY; when absent the key file in the data directory is used (or created). */
  readonly masterKey: Buffer | null;
  /** Most secrets one tenant may hold across its stores (COFFER_SECRET_QUOTA, default 100000). */
  readonly secretQuota: number;
  /** Most stores one tenant may hold (COFFER_STORE_LIMIT, default 1000). */
  readonly storeLimit: number;
  /** Where the envs facade is mounted (COFFER_ENVS_PREFIX); '' serves it at the server root. */
  readonly envsPrefix: string;
  /** COFFER_METRICS_TOKEN: when set, `/metrics` wants `Authorization: Bearer <it>`; null: open. */
  readonly metricsToken: string | null;
  readonly oidc: OidcConfig | null;
  /** COFFER_JWT_AUTH or COFFER_JWT_AUTH_FILE: JWT login mounts and roles (docs/vault.md); null: none. */
  readonly jwtAuth: JwtAuthConfig | null;
  /** The keyring file (COFFER_KEYRING_FILE, default `keyring.json` in the data directory); unused with COFFER_MASTER_KEY. */
  readonly keyringFile: string;
  /** COFFER_TLS_CERT + COFFER_TLS_KEY (PEM files, read at start-up); null serves plain HTTP. */
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | null;
  /** Failed authentications one client address may make per minute (COFFER_AUTH_FAILURE_LIMIT, default 20). */
  readonly authFailureLimit: number;
  /** Requests per second one API key or service credential may make (COFFER_KEY_RATE_LIMIT); 0: no limit (default). */
  readonly keyRateLimit: number;
  /** COFFER_TRUST_PROXY: false (default), true, or a comma-separated list of proxy addresses/CIDRs. */
  readonly trustProxy: boolean | string;
  /** COFFER_AUDIT_STDOUT=1: `coffer serve` also writes each committed audit event to stdout as a JSON line. */
  readonly auditStdout: boolean;
  /** Change streams (docs/notifications.md): heartbeat and poll periods (ms), open streams per tenant and per key (0: no limit). */
  readonly watch: {
    readonly heartbeatMs: number;
    readonly pollMs: number;
    readonly perTenant: number;
    readonly perKey: number;
  };
  /** Signed checkpoints of the audit chains; null when COFFER_AUDIT_ANCHOR_KEY is unset. */
  readonly auditAnchors: AuditAnchorsConfig | null;
  /** COFFER_AUDIT_RETENTION: events older than this may be pruned behind a checkpoint; null: kept forever. */
  readonly auditRetentionMs: number | null;
  /** Webhook delivery (docs/notifications.md). */
  readonly webhooks: WebhookConfig;
}

/** How webhooks are delivered (COFFER_WEBHOOKS_*, docs/notifications.md). */
export interface WebhookConfig {
  /** COFFER_WEBHOOKS_ALLOW_PRIVATE: loopback, private and link-local destinations allowed (default false). */
  readonly allowPrivate: boolean;
  /** COFFER_WEBHOOKS_TIMEOUT_MS: one attempt's limit, connection to response (default 10000). */
  readonly timeoutMs: number;
  /** COFFER_WEBHOOKS_RETRY_SECONDS: how long a delivery is retried before it is marked failed (default 86400). */
  readonly retrySeconds: number;
  /** COFFER_WEBHOOKS_BACKOFF_MS: the first retry's delay bound, doubled per attempt (default 1000). */
  readonly backoffMs: number;
  /** COFFER_WEBHOOKS_LEASE_SECONDS: how long a node's claim on a webhook lasts unrenewed (default 30). */
  readonly leaseSeconds: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return 8080;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(raw)}.`);
  }
  return Number(raw);
}

function parseCount(env: Env, name: string, fallback: number): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) {
    throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(raw)}.`);
  }
  return Number(raw);
}

function parsePositive(env: Env, name: string, fallback: number): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) === 0) {
    throw new ConfigError(`${name} must be a whole number above 0, got ${JSON.stringify(raw)}.`);
  }
  return Number(raw);
}

function parseRate(env: Env, name: string, fallback: number): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw)) {
    throw new ConfigError(
      `${name} must be a whole number (0 turns the limit off), got ${JSON.stringify(raw)}.`,
    );
  }
  return Number(raw);
}

function readPem(env: Env, name: string, cwd: string): Buffer {
  const path = nonEmpty(env, name) ?? '';
  try {
    return readFileSync(isAbsolute(path) ? path : resolve(cwd, path));
  } catch {
    throw new ConfigError(`${name} must name a readable PEM file, got ${JSON.stringify(path)}.`);
  }
}

function parseTls(env: Env, cwd: string): Config['tls'] {
  const cert = nonEmpty(env, 'COFFER_TLS_CERT');
  const key = nonEmpty(env, 'COFFER_TLS_KEY');
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined) {
    throw new ConfigError('COFFER_TLS_CERT and COFFER_TLS_KEY must be set together.');
  }
  return Object.freeze({
    cert: readPem(env, 'COFFER_TLS_CERT', cwd),
    key: readPem(env, 'COFFER_TLS_KEY', cwd),
  });
}

function parseTrustProxy(raw: string | undefined): boolean | string {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (!/^[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*$/.test(raw.replace(/\s+/g, ''))) {
    throw new ConfigError(
      `COFFER_TRUST_PROXY must be true, false or a comma-separated list of addresses/CIDRs, got ${JSON.stringify(raw)}.`,
    );
  }
  return raw.replace(/\s+/g, '');
}

function parseMasterKey(raw: string | undefined): Buffer | null {
  if (raw === undefined) return null;
  const key = Buffer.from(raw, 'base64');
  // Round-trip so that stray characters (which Node's decoder skips) are refused, not ignored.
  if (key.length !== KEK_BYTES || key.toString('base64').replace(/=+$/, '') !== raw.replace(/=+$/, '')) {
    // Never echo the value: it is key material.
    throw new ConfigError(`COFFER_MASTER_KEY must be the base64 encoding of exactly ${KEK_BYTES} bytes.`);
  }
  return key;
}

/** A path prefix: `/` then segments of URL-safe characters, with no trailing slash. */
const PATH_PREFIX_PATTERN = /^(\/[A-Za-z0-9._~-]+)+$/;

function parsePathPrefix(env: Env, name: string): string {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return '';
  if (!PATH_PREFIX_PATTERN.test(raw)) {
    throw new ConfigError(
      `${name} must start with '/', have no trailing slash and hold only A-Z, a-z, 0-9, '.', '_', '~', '-' between slashes, got ${JSON.stringify(raw)}.`,
    );
  }
  return raw;
}

function parseFlag(env: Env, name: string): boolean {
  const raw = nonEmpty(env, name);
  if (raw === undefined || raw === '0' || raw.toLowerCase() === 'false') return false;
  if (raw === '1' || raw.toLowerCase() === 'true') return true;
  throw new ConfigError(`${name} must be 1 or 0 (true or false), got ${JSON.stringify(raw)}.`);
}

/** `new URL(raw)`, or null when it is not a URL. */
function urlOrNull(raw: string): URL | null {
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

/**
 * A PostgreSQL connection URL, as node-postgres reads it. That includes libpq's form for a Unix
 * socket with a user and no host (`postgresql://coffer@/coffer?host=/run/postgresql`), which WHATWG
 * URL parsing refuses: pg reads it with a placeholder host, and so is it checked here.
 */
function parseDatabaseUrl(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const url = urlOrNull(raw) ?? urlOrNull(raw.replace('@/', '@socket.invalid/'));
  if (url === null || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    // Never echo the value: it may hold a password.
    throw new ConfigError('COFFER_DATABASE_URL must be a postgres:// or postgresql:// URL.');
  }
  return raw;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * An identity provider's URL (issuer, JWKS): https, or http on a loopback host only (a local
 * identity provider in tests and development), without credentials or fragment.
 */
export function isAcceptableIdpUrl(url: URL): boolean {
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  return secure && url.username === '' && url.password === '' && url.hash === '';
}

function parseIdpUrl(name: string, raw: string): string {
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    url = null;
  }
  if (url === null || !isAcceptableIdpUrl(url)) {
    throw new ConfigError(
      `${name} must be an https:// URL (http:// only on 127.0.0.1, localhost or [::1]) without credentials or fragment, got ${JSON.stringify(raw)}.`,
    );
  }
  return raw;
}

/** A top-level claim name, as issuers spell them (Auth0's namespaced claims are URLs). */
const CLAIM_NAME_PATTERN = /^[\x21-\x7e]{1,256}$/;

function parseClaimName(env: Env, name: string, fallback: string): string {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (!CLAIM_NAME_PATTERN.test(raw)) {
    throw new ConfigError(`${name} must be 1-256 printable ASCII characters without spaces.`);
  }
  return raw;
}

function parseOidc(env: Env): OidcConfig | null {
  const issuer = nonEmpty(env, 'COFFER_OIDC_ISSUER');
  const audience = nonEmpty(env, 'COFFER_OIDC_AUDIENCE');
  if (issuer === undefined && audience === undefined) {
    for (const other of [
      'COFFER_OIDC_JWKS_URL',
      'COFFER_OIDC_TENANT_CLAIM',
      'COFFER_OIDC_PERMISSIONS_CLAIM',
    ]) {
      // A half-configured OIDC set-up would silently refuse every JWT: say so at start-up instead.
      if (nonEmpty(env, other) !== undefined) {
        throw new ConfigError(`${other} needs COFFER_OIDC_ISSUER and COFFER_OIDC_AUDIENCE.`);
      }
    }
    return null;
  }
  if (issuer === undefined || audience === undefined) {
    throw new ConfigError('COFFER_OIDC_ISSUER and COFFER_OIDC_AUDIENCE must be set together.');
  }
  const jwksUrl = nonEmpty(env, 'COFFER_OIDC_JWKS_URL');
  return Object.freeze({
    issuer: parseIdpUrl('COFFER_OIDC_ISSUER', issuer),
    audience,
    jwksUrl: jwksUrl === undefined ? null : parseIdpUrl('COFFER_OIDC_JWKS_URL', jwksUrl),
    tenantClaim: parseClaimName(env, 'COFFER_OIDC_TENANT_CLAIM', 'coffer_tenant'),
    permissionsClaim: parseClaimName(env, 'COFFER_OIDC_PERMISSIONS_CLAIM', 'coffer_permissions'),
  });
}

function parseMetricsToken(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if (raw.length < 16 || /\s/.test(raw)) {
    // Never echo the value: it is a credential.
    throw new ConfigError('COFFER_METRICS_TOKEN must be at least 16 characters without whitespace.');
  }
  return raw;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `90d`, `12h`, `15m`, `30s`, `500ms`; `0` only where zero is allowed. Null when unset. */
function parseDuration(env: Env, name: string, allowZero: boolean): number | null {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return null;
  if (allowZero && raw === '0') return 0;
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(raw);
  const ms = m?.[1] !== undefined && m[2] !== undefined ? Number(m[1]) * (DURATION_UNITS[m[2]] ?? 0) : 0;
  if (ms < 1 || !Number.isSafeInteger(ms)) {
    throw new ConfigError(
      `${name} must be a duration such as 90d, 12h, 15m or 30s${allowZero ? ' (0 turns it off)' : ''}, got ${JSON.stringify(raw)}.`,
    );
  }
  return ms;
}

/** A path the database's writers must not be able to reach with it: refused inside the data directory. */
function outsideDataDir(env: Env, name: string, cwd: string, dataDir: string): string | null {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return null;
  const path = resolve(cwd, raw);
  const rel = relative(dataDir, path);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new ConfigError(
      `${name} must be outside the data directory (${dataDir}): the anchors must not sit beside the database they vouch for.`,
    );
  }
  return path;
}

function parseAuditAnchors(env: Env, cwd: string, dataDir: string): AuditAnchorsConfig | null {
  const keyFile = outsideDataDir(env, 'COFFER_AUDIT_ANCHOR_KEY', cwd, dataDir);
  const file = outsideDataDir(env, 'COFFER_AUDIT_ANCHOR_FILE', cwd, dataDir);
  const stdout = parseFlag(env, 'COFFER_AUDIT_ANCHOR_STDOUT');
  const interval = parseDuration(env, 'COFFER_AUDIT_ANCHOR_INTERVAL', true);
  if (keyFile === null) {
    for (const other of [
      'COFFER_AUDIT_ANCHOR_FILE',
      'COFFER_AUDIT_ANCHOR_STDOUT',
      'COFFER_AUDIT_ANCHOR_INTERVAL',
    ]) {
      if (nonEmpty(env, other) !== undefined) {
        throw new ConfigError(`${other} needs COFFER_AUDIT_ANCHOR_KEY (the key that signs the checkpoints).`);
      }
    }
    return null;
  }
  if (file === null && !stdout) {
    throw new ConfigError(
      'COFFER_AUDIT_ANCHOR_KEY needs somewhere to ship the checkpoints: COFFER_AUDIT_ANCHOR_FILE, COFFER_AUDIT_ANCHOR_STDOUT=1, or both.',
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = readAnchorPrivateKey(keyFile);
  } catch (error) {
    throw new ConfigError(
      `COFFER_AUDIT_ANCHOR_KEY: ${error instanceof AnchorKeyError ? error.message : 'the key cannot be read.'} (\`coffer audit anchor-key --out FILE\` makes one.)`,
    );
  }
  return Object.freeze({ keyFile, privateKey, file, stdout, intervalMs: interval ?? 3_600_000 });
}

function parseAuditRetention(
  env: Env,
  cwd: string,
  dataDir: string,
): Pick<Config, 'auditAnchors' | 'auditRetentionMs'> {
  const auditAnchors = parseAuditAnchors(env, cwd, dataDir);
  const auditRetentionMs = parseDuration(env, 'COFFER_AUDIT_RETENTION', false);
  if (auditRetentionMs !== null && auditAnchors === null) {
    throw new ConfigError(
      'COFFER_AUDIT_RETENTION needs COFFER_AUDIT_ANCHOR_KEY: events are pruned only behind a signed checkpoint.',
    );
  }
  return { auditAnchors, auditRetentionMs };
}

/** COFFER_DATA_DIR (default ./data) as an absolute path, without parsing the rest of the environment. */
export function resolveDataDir(env: Env, cwd = process.cwd()): string {
  const dataDir = nonEmpty(env, 'COFFER_DATA_DIR') ?? './data';
  return isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir);
}

export function parseConfig(env: Env, cwd = process.cwd()): Config {
  const logLevel = (nonEmpty(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}.`,
    );
  }
  const logFormat = (nonEmpty(env, 'COFFER_LOG_FORMAT') ?? 'auto').toLowerCase();
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new ConfigError(
      `COFFER_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(logFormat)}.`,
    );
  }
  const databaseUrl = parseDatabaseUrl(nonEmpty(env, 'COFFER_DATABASE_URL'));
  const dataDirPath = resolveDataDir(env, cwd);
  const keyringFile = nonEmpty(env, 'COFFER_KEYRING_FILE');
  return Object.freeze({
    host: nonEmpty(env, 'HOST') ?? '127.0.0.1',
    port: parsePort(nonEmpty(env, 'PORT')),
    dataDir: dataDirPath,
    databaseUrl,
    logLevel: logLevel as LogLevel,
    logFormat: logFormat as LogFormat,
    masterKey: parseMasterKey(nonEmpty(env, 'COFFER_MASTER_KEY')),
    secretQuota: parseCount(env, 'COFFER_SECRET_QUOTA', DEFAULT_LIMITS.secretQuota),
    storeLimit: parseCount(env, 'COFFER_STORE_LIMIT', DEFAULT_LIMITS.storeLimit),
    envsPrefix: parsePathPrefix(env, 'COFFER_ENVS_PREFIX'),
    metricsToken: parseMetricsToken(nonEmpty(env, 'COFFER_METRICS_TOKEN')),
    oidc: parseOidc(env),
    jwtAuth: readJwtAuth(
      nonEmpty(env, 'COFFER_JWT_AUTH'),
      nonEmpty(env, 'COFFER_JWT_AUTH_FILE'),
      cwd,
      isAcceptableIdpUrl,
      (message) => new ConfigError(message),
    ),
    keyringFile: keyringFile === undefined ? join(dataDirPath, 'keyring.json') : resolve(cwd, keyringFile),
    tls: parseTls(env, cwd),
    authFailureLimit: parseRate(env, 'COFFER_AUTH_FAILURE_LIMIT', 20),
    keyRateLimit: parseRate(env, 'COFFER_KEY_RATE_LIMIT', 0),
    trustProxy: parseTrustProxy(nonEmpty(env, 'COFFER_TRUST_PROXY')),
    auditStdout: parseFlag(env, 'COFFER_AUDIT_STDOUT'),
    webhooks: {
      allowPrivate: parseFlag(env, 'COFFER_WEBHOOKS_ALLOW_PRIVATE'),
      timeoutMs: parseCount(env, 'COFFER_WEBHOOKS_TIMEOUT_MS', 10_000),
      retrySeconds: parseCount(env, 'COFFER_WEBHOOKS_RETRY_SECONDS', 86_400),
      backoffMs: parseCount(env, 'COFFER_WEBHOOKS_BACKOFF_MS', 1_000),
      leaseSeconds: parseCount(env, 'COFFER_WEBHOOKS_LEASE_SECONDS', 30),
    },
    watch: Object.freeze({
      heartbeatMs: parsePositive(env, 'COFFER_WATCH_HEARTBEAT_SECONDS', 15) * 1000,
      pollMs: parsePositive(env, 'COFFER_WATCH_POLL_MS', 1000),
      perTenant: parseRate(env, 'COFFER_WATCH_LIMIT_TENANT', 100),
      perKey: parseRate(env, 'COFFER_WATCH_LIMIT_KEY', 10),
    }),
    ...parseAuditRetention(env, cwd, dataDirPath),
  });
}
