import { statSync } from 'node:fs';
import { Keyring, KeyringError } from './keyring.js';
import { createKeyringFile, keyringOf, readKeyringFile, singleKeyFile } from './keyring-file.js';

export const KEYRING_FILE = 'keyring.json';

/** How often a server looks at its keyring file for a rotated master key (one stat when unchanged). */
export const KEYRING_CHECK_MS = 1_000;

/** Identity of the file as it is now: a rename (every update) gives a new inode. */
function fileIdentity(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return null;
  }
}

export type KeyringFileEvent =
  { readonly ids: readonly string[]; readonly active: string } | { readonly error: string };

/**
 * Keeps a Keyring in step with its file. `check()` costs one stat when nothing changed; after a
 * change it re-reads the file and adopts it. A file that cannot be read (mid-copy by configuration
 * management, say) leaves the keys in hand as they are and is tried again on the next check.
 */
export class KeyringWatcher {
  readonly #keyring: Keyring;
  readonly #path: string;
  #seen: string | null;
  /** Told of every adopted change or unreadable file (the server logs it). */
  listener: (event: KeyringFileEvent) => void = () => undefined;

  constructor(keyring: Keyring, path: string) {
    this.#keyring = keyring;
    this.#path = path;
    this.#seen = fileIdentity(path);
  }

  /** True when the file changed and was adopted. */
  check(): boolean {
    const now = fileIdentity(this.#path);
    if (now === null || now === this.#seen) return false;
    try {
      const next = keyringOf(readKeyringFile(this.#path));
      this.#seen = now;
      this.#keyring.adopt(next);
      this.listener({ ids: next.ids, active: next.active.id });
      return true;
    } catch (error) {
      this.listener({ error: error instanceof Error ? error.message : String(error) });
      return false;
    }
  }
}

export interface LoadedKeyring {
  readonly keyring: Keyring;
  /** True when this call created the key file. */
  readonly created: boolean;
  /** Watches the keyring file; null when the key came from COFFER_MASTER_KEY (fixed, not rotatable). */
  readonly watcher: KeyringWatcher | null;
}

/**
 * The keyring: COFFER_MASTER_KEY when given, else the keyring file (COFFER_KEYRING_FILE, default
 * `keyring.json` in the data directory), created (0600) only while no sealed value exists. A key
 * that does not match the stored data is a start-up error. A file-backed keyring refreshes itself
 * from its file when a value names a KEK it lacks (see Keyring.resolve).
 */
export async function loadKeyring(options: {
  keyringFile: string;
  masterKey: Buffer | null;
  hasSealedValues: () => Promise<boolean>;
  kekIdsInUse: () => Promise<string[]>;
  /** False for commands that only read: a missing key file is then an error, never created. */
  mayCreate?: boolean;
}): Promise<LoadedKeyring> {
  const path = options.keyringFile;
  let keyring: Keyring;
  let created = false;
  let watcher: KeyringWatcher | null = null;
  if (options.masterKey !== null) {
    keyring = new Keyring([options.masterKey]);
  } else {
    if (fileIdentity(path) === null) {
      if (options.mayCreate === false) {
        throw new KeyringError(
          `No master key: ${path} does not exist; set COFFER_MASTER_KEY or COFFER_KEYRING_FILE as the server has them.`,
        );
      }
      if (await options.hasSealedValues()) {
        throw new KeyringError(
          `Encrypted secrets exist but no master key was found: set COFFER_MASTER_KEY or restore ${path}. Refusing to create a new key over existing data.`,
        );
      }
      try {
        createKeyringFile(path, singleKeyFile());
        created = true;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      }
    }
    keyring = keyringOf(readKeyringFile(path));
    const fileWatcher = new KeyringWatcher(keyring, path);
    keyring.setRefresher(() => void fileWatcher.check());
    watcher = fileWatcher;
  }
  const missing = (await options.kekIdsInUse()).filter((id) => keyring.get(id) === undefined);
  if (missing.length > 0) {
    throw new KeyringError(
      `The master key does not match the stored secrets: they are sealed under key id(s) ${missing.join(', ')}, which the loaded keyring (${keyring.ids.join(', ')}) does not hold.`,
    );
  }
  return { keyring, created, watcher };
}
