import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { StoreAddress } from './secret-source.js';
import { UsageError } from './usage-error.js';

/**
 * Where the secrets commands work (docs/adr/0009-cli-configuration.md): first match wins, field by
 * field — flags, then the environment, then the directory binding (`.coffer.json`, `coffer setup`),
 * then the login file (`coffer login`). Without a server URL, the local data directory.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** A settings file that exists but cannot be used: one line naming the file and what to do. */
export class SettingsError extends Error {}

export const BINDING_FILE = '.coffer.json';
const LOGIN_FILE = 'login.json';

export interface LoginSettings {
  readonly url: string;
  readonly token: string;
  /** The tenant the token belongs to, when given at login: the default tenant of every command. */
  readonly tenant?: string;
}

export interface DirectoryBinding {
  readonly tenant: string;
  readonly store: string;
  /** The `.coffer.json` it came from. */
  readonly file: string;
}

/** `$XDG_CONFIG_HOME/coffer`, else `~/.config/coffer` (as `doppler` and `gh` do on Linux and macOS). */
export function configDirectory(env: Env): string {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  if (xdg !== undefined && xdg !== '' && xdg.startsWith('/')) return join(xdg, 'coffer');
  const home = env.HOME?.trim();
  return join(home !== undefined && home !== '' ? home : homedir(), '.config', 'coffer');
}

export function loginFilePath(env: Env): string {
  return join(configDirectory(env), LOGIN_FILE);
}

function readJsonObject(file: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SettingsError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SettingsError(`${file} is not valid JSON; fix or delete it.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new SettingsError(`${file} must hold a JSON object; fix or delete it.`);
  return parsed as Record<string, unknown>;
}

function stringField(obj: Record<string, unknown>, key: string, file: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new SettingsError(`${file}: "${key}" must be a non-empty string.`);
  return v;
}

/** The saved login, or null. A file others may read is refused: it holds a token. */
export function readLogin(env: Env): LoginSettings | null {
  const file = loginFilePath(env);
  const obj = readJsonObject(file);
  if (obj === null) return null;
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) {
    throw new SettingsError(
      `${file} holds a token but others may read it (mode ${(statSync(file).mode & 0o777).toString(8)}): run \`chmod 600 ${file}\`, or \`coffer login\` again.`,
    );
  }
  const url = stringField(obj, 'url', file);
  const token = stringField(obj, 'token', file);
  if (url === undefined || token === undefined)
    throw new SettingsError(`${file} lacks "url" or "token": run \`coffer login\` again.`);
  const tenant = stringField(obj, 'tenant', file);
  return { url, token, ...(tenant === undefined ? {} : { tenant }) };
}

/** Writes the login file with mode 0600 (its directory 0700), replacing any earlier one atomically. */
export function writeLogin(env: Env, login: LoginSettings): string {
  const file = loginFilePath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

/** The nearest `.coffer.json` from `cwd` up to the filesystem root, or null. */
export function findBinding(cwd: string): DirectoryBinding | null {
  let dir = resolve(cwd);
  for (;;) {
    const file = join(dir, BINDING_FILE);
    const obj = readJsonObject(file);
    if (obj !== null) {
      const tenant = stringField(obj, 'tenant', file);
      const store = stringField(obj, 'store', file);
      if (tenant === undefined || store === undefined)
        throw new SettingsError(`${file} lacks "tenant" or "store": run \`coffer setup\` again.`);
      return { tenant, store, file };
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function writeBinding(dir: string, address: StoreAddress): string {
  const file = join(resolve(dir), BINDING_FILE);
  writeFileSync(file, `${JSON.stringify({ tenant: address.tenant, store: address.store }, null, 2)}\n`);
  return file;
}

export interface AddressFlags {
  readonly tenant?: string;
  readonly store?: string;
  readonly env?: string;
  readonly url?: string;
}

/** A server's native API, or null for the local data directory. */
export interface ServerTarget {
  readonly url: string;
  readonly token: string;
}

export interface Target {
  readonly address: StoreAddress;
  readonly server: ServerTarget | null;
}

const nonEmpty = (s: string | undefined): string | undefined => {
  const t = s?.trim();
  return t === undefined || t === '' ? undefined : t;
};

/** `--env ORG/PROJECT/ENV`: tenant ORG, the envs store `PROJECT/ENV`. */
function envsAddress(value: string): StoreAddress {
  const parts = value.split('/');
  const [org, project, env] = parts;
  if (parts.length !== 3 || !org || !project || !env) throw new UsageError('--env must be ORG/PROJECT/ENV.');
  return { tenant: org, store: `${project}/${env}` };
}

/** The store a command names, field by field: flags, environment, directory binding, login. */
export function resolveAddress(flags: AddressFlags, env: Env, cwd: string): StoreAddress {
  if (flags.env !== undefined) {
    if (flags.tenant !== undefined || flags.store !== undefined)
      throw new UsageError('--env ORG/PROJECT/ENV replaces --tenant and --store; give one or the other.');
    return envsAddress(flags.env);
  }
  let binding: DirectoryBinding | null | undefined;
  const bound = () => (binding === undefined ? (binding = findBinding(cwd)) : binding);
  let login: LoginSettings | null | undefined;
  const loggedIn = () => (login === undefined ? (login = readLogin(env)) : login);
  const tenant =
    nonEmpty(flags.tenant) ?? nonEmpty(env.COFFER_TENANT) ?? bound()?.tenant ?? loggedIn()?.tenant;
  const store = nonEmpty(flags.store) ?? nonEmpty(env.COFFER_STORE) ?? bound()?.store;
  if (tenant === undefined || store === undefined) {
    const missing = tenant === undefined ? '--tenant' : '--store';
    throw new UsageError(
      `${missing} is required: give --tenant T --store S (or --env ORG/PROJECT/ENV), or bind this directory once with \`coffer setup --tenant T --store S\`.`,
    );
  }
  return { tenant, store };
}

/**
 * The server to talk to, or null for the local data directory: `--url`, else COFFER_URL, else —
 * unless COFFER_DATA_DIR names a local directory — the login file's. The token is COFFER_TOKEN,
 * else the login file's when it was saved for that same URL; a token is never taken from argv.
 */
export function resolveServer(flags: AddressFlags, env: Env): ServerTarget | null {
  const explicit = nonEmpty(flags.url) ?? nonEmpty(env.COFFER_URL);
  const envToken = nonEmpty(env.COFFER_TOKEN);
  if (explicit === undefined && nonEmpty(env.COFFER_DATA_DIR) !== undefined) return null;
  const login = readLogin(env);
  const url = explicit ?? login?.url;
  if (url === undefined) return null;
  if (envToken !== undefined) return { url, token: envToken };
  if (login !== null && sameServer(login.url, url)) return { url, token: login.token };
  throw new SettingsError(
    `no token for ${url}: set COFFER_TOKEN, or run \`coffer login --url ${url}\` (it reads the token from stdin or asks for it).`,
  );
}

function sameServer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
