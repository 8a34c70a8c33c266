import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { KEK_BYTES, Keyring, KeyringError, kekIdFor } from './keyring.js';

/**
 * The keyring file (`keyring.json`, or COFFER_KEYRING_FILE): format coffer-keyring/v1, the KEKs in
 * base64 and the id of the active one. Every change is written to a temporary file and renamed
 * over the old one, so a reader (a server reloading it) sees the old file or the new one, never a
 * torn write; a lock file keeps two `coffer master-key` commands from interleaving.
 */
export const KEYRING_FORMAT = 'coffer-keyring/v1';

export interface KeyringFileEntry {
  readonly id: string;
  readonly key: string;
  readonly createdAt: string;
}

export interface KeyringFile {
  readonly format: typeof KEYRING_FORMAT;
  readonly active: string;
  readonly keys: readonly KeyringFileEntry[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Refuses a keyring that group or others may read or write, as ssh refuses such a private key:
 * the KEKs open every value, and a mode like 0644 (a `cp` under the usual umask, an archive
 * restored as is) hands them to every account on the host. Checked on the open descriptor, so the
 * file checked is the file read. POSIX modes only: Windows has none to check.
 */
function assertPrivate(fd: number, path: string): void {
  if (process.platform === 'win32') return;
  const mode = fstatSync(fd).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyringError(
      `The key file ${path} has mode ${mode.toString(8).padStart(4, '0')}: group or others may access it. It holds the keys to every secret; make it private to the user Coffer runs as (chmod 600 ${path}) and start again.`,
    );
  }
}

/** Reads and checks a keyring file; the message names the path, never key material. */
export function readKeyringFile(path: string): KeyringFile {
  let text: string;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new KeyringError(`The key file ${path} cannot be read as a Coffer keyring.`);
  }
  try {
    assertPrivate(fd, path);
    try {
      text = readFileSync(fd, 'utf8');
    } catch {
      throw new KeyringError(`The key file ${path} cannot be read as a Coffer keyring.`);
    }
  } finally {
    closeSync(fd);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeyringError(`The key file ${path} cannot be read as a Coffer keyring.`);
  }
  if (!isRecord(parsed) || parsed.format !== KEYRING_FORMAT || !Array.isArray(parsed.keys)) {
    throw new KeyringError(`The key file ${path} is not a Coffer keyring (format ${KEYRING_FORMAT}).`);
  }
  const keys: KeyringFileEntry[] = [];
  for (const entry of parsed.keys as unknown[]) {
    const key = isRecord(entry) && typeof entry.key === 'string' ? Buffer.from(entry.key, 'base64') : null;
    if (key === null || key.length !== KEK_BYTES) {
      throw new KeyringError(`The key file ${path} holds a key that is not ${KEK_BYTES} bytes.`);
    }
    // The id is always derived again: an edited id cannot make one key pass for another.
    const createdAt = isRecord(entry) && typeof entry.createdAt === 'string' ? entry.createdAt : '';
    keys.push({ id: kekIdFor(key), key: key.toString('base64'), createdAt });
  }
  if (keys.length === 0) throw new KeyringError(`The key file ${path} holds no key.`);
  if (typeof parsed.active !== 'string' || !keys.some((k) => k.id === parsed.active)) {
    throw new KeyringError(`The key file ${path} names an active key it does not hold.`);
  }
  return { format: KEYRING_FORMAT, active: parsed.active, keys };
}

export function keyringOf(file: KeyringFile): Keyring {
  const index = file.keys.findIndex((k) => k.id === file.active);
  return new Keyring(
    file.keys.map((k) => Buffer.from(k.key, 'base64')),
    index,
  );
}

/** A keyring file holding one key, active. */
export function singleKeyFile(key: Buffer = randomBytes(KEK_BYTES)): KeyringFile {
  const id = kekIdFor(key);
  return {
    format: KEYRING_FORMAT,
    active: id,
    keys: [{ id, key: key.toString('base64'), createdAt: new Date().toISOString() }],
  };
}

function serialise(file: KeyringFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

function writeDurably(path: string, text: string, flag: 'wx' | 'w'): void {
  const fd = openSync(path, flag, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(path: string): void {
  // The rename itself must survive a crash too; some platforms cannot open a directory: best effort.
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported here */
  }
}

/** Creates a keyring file (0600) that must not exist yet: never overwrites one another process made. */
export function createKeyringFile(path: string, file: KeyringFile): void {
  writeDurably(path, serialise(file), 'wx');
  syncDirectory(path);
}

/**
 * Read-modify-write of the keyring file under `PATH.lock`, replaced atomically (temporary file,
 * fsync, rename). Returns the file as written.
 */
export function updateKeyringFile(path: string, change: (file: KeyringFile) => KeyringFile): KeyringFile {
  const lock = `${path}.lock`;
  try {
    writeDurably(lock, `${process.pid}\n`, 'wx');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') {
      throw new KeyringError(
        `Another master-key command holds ${lock}; if none is running, remove that file and retry.`,
      );
    }
    throw error;
  }
  try {
    const next = change(readKeyringFile(path));
    const temp = `${path}.tmp-${process.pid}`;
    writeDurably(temp, serialise(next), 'w');
    renameSync(temp, path);
    syncDirectory(path);
    return next;
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Adds a fresh random KEK (not active); returns its id with the new file. */
export function withNewKey(file: KeyringFile): { file: KeyringFile; id: string } {
  const key = randomBytes(KEK_BYTES);
  const id = kekIdFor(key);
  const entry = { id, key: key.toString('base64'), createdAt: new Date().toISOString() };
  return { file: { ...file, keys: [...file.keys, entry] }, id };
}

export function withActive(file: KeyringFile, id: string): KeyringFile {
  if (!file.keys.some((k) => k.id === id)) throw new KeyringError(`The keyring holds no key with id ${id}.`);
  return { ...file, active: id };
}

export function withoutKey(file: KeyringFile, id: string): KeyringFile {
  if (!file.keys.some((k) => k.id === id)) throw new KeyringError(`The keyring holds no key with id ${id}.`);
  if (file.active === id) throw new KeyringError(`Key ${id} is the active key; activate another one first.`);
  return { ...file, keys: file.keys.filter((k) => k.id !== id) };
}
