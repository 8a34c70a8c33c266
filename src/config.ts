import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_LIMITS } from './core/coffer-core.js';
import { KEK_BYTES } from './crypto/keyring.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything Coffer reads from its environment, parsed once at start-up. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Holds the key file (unless COFFER_MASTER_KEY is set) and, without COFFER_DATABASE_URL, the SQLite database. */
  readonly dataDir: string;
  /** COFFER_DATABASE_URL (postgres:// or postgresql://): PostgreSQL instead of the embedded SQLite. */
  readonly databaseUrl: string | null;
  readonly logLevel: LogLevel;
  /** From COFFER_MASTER_KEY; when absent the key file in the data directory is used (or created). */
  readonly masterKey: Buffer | null;
  /** Most secrets one tenant may hold across its stores (COFFER_SECRET_QUOTA, default 100000). */
  readonly secretQuota: number;
  /** Most stores one tenant may hold (COFFER_STORE_LIMIT, default 1000). */
  readonly storeLimit: number;
  /** Where the envs facade is mounted (COFFER_ENVS_PREFIX); '' serves it at the server root. */
  readonly envsPrefix: string;
  /** COFFER_AUDIT_STDOUT=1: `coffer serve` also writes each committed audit event to stdout as a JSON line. */
  readonly auditStdout: boolean;
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

function parseDatabaseUrl(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    // Never echo the value: it may hold a password.
    throw new ConfigError('COFFER_DATABASE_URL must be a postgres:// or postgresql:// URL.');
  }
  return raw;
}

export function parseConfig(env: Env, cwd = process.cwd()): Config {
  const logLevel = (nonEmpty(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}.`,
    );
  }
  const databaseUrl = parseDatabaseUrl(nonEmpty(env, 'COFFER_DATABASE_URL'));
  const dataDir = nonEmpty(env, 'COFFER_DATA_DIR') ?? './data';
  return Object.freeze({
    host: nonEmpty(env, 'HOST') ?? '127.0.0.1',
    port: parsePort(nonEmpty(env, 'PORT')),
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir),
    databaseUrl,
    logLevel: logLevel as LogLevel,
    masterKey: parseMasterKey(nonEmpty(env, 'COFFER_MASTER_KEY')),
    secretQuota: parseCount(env, 'COFFER_SECRET_QUOTA', DEFAULT_LIMITS.secretQuota),
    storeLimit: parseCount(env, 'COFFER_STORE_LIMIT', DEFAULT_LIMITS.storeLimit),
    envsPrefix: parsePathPrefix(env, 'COFFER_ENVS_PREFIX'),
    auditStdout: parseFlag(env, 'COFFER_AUDIT_STDOUT'),
  });
}
