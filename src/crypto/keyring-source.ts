import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEK_BYTES, Keyring, KeyringError, kekIdFor } from './keyring.js';

export const KEYRING_FILE = 'keyring.json';

interface KeyringFile {
  format: 'coffer-keyring/v1';
  active: string;
  keys: { id: string; key: string; createdAt: string }[];
}

function parseKeyringFile(path: string): Keyring {
  let parsed: KeyringFile;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as KeyringFile;
  } catch {
    throw new KeyringError(`The key file ${path} cannot be read as a Coffer keyring.`);
  }
  if (parsed?.format !== 'coffer-keyring/v1' || !Array.isArray(parsed.keys) || parsed.keys.length === 0) {
    throw new KeyringError(`The key file ${path} is not a Coffer keyring (format coffer-keyring/v1).`);
  }
  const keys = parsed.keys.map((k) => Buffer.from(String(k.key), 'base64'));
  if (keys.some((k) => k.length !== KEK_BYTES)) {
    throw new KeyringError(`The key file ${path} holds a key that is not ${KEK_BYTES} bytes.`);
  }
  const activeIndex = keys.findIndex((k) => kekIdFor(k) === parsed.active);
  if (activeIndex < 0) throw new KeyringError(`The key file ${path} names an active key it does not hold.`);
  return new Keyring(keys, activeIndex);
}

function createKeyringFile(path: string): void {
  const key = randomBytes(KEK_BYTES);
  const file: KeyringFile = {
    format: 'coffer-keyring/v1',
    active: kekIdFor(key),
    keys: [{ id: kekIdFor(key), key: key.toString('base64'), createdAt: new Date().toISOString() }],
  };
  // 'wx': never overwrite a key file another process created a moment ago.
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The keyring: COFFER_MASTER_KEY when given, else the data directory's key file, created (0600) only
 * while no sealed value exists. A key that does not match the stored data is a start-up error.
 */
export async function loadKeyring(options: {
  dataDir: string;
  masterKey: Buffer | null;
  hasSealedValues: () => Promise<boolean>;
  kekIdsInUse: () => Promise<string[]>;
}): Promise<{ keyring: Keyring; created: boolean }> {
  const path = join(options.dataDir, KEYRING_FILE);
  let keyring: Keyring;
  let created = false;
  if (options.masterKey !== null) {
    keyring = new Keyring([options.masterKey]);
  } else if (exists(path)) {
    keyring = parseKeyringFile(path);
  } else {
    if (await options.hasSealedValues()) {
      throw new KeyringError(
        `Encrypted secrets exist in ${options.dataDir} but no master key was found: set COFFER_MASTER_KEY or restore ${KEYRING_FILE}. Refusing to create a new key over existing data.`,
      );
    }
    try {
      createKeyringFile(path);
      created = true;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    }
    keyring = parseKeyringFile(path);
  }
  const missing = (await options.kekIdsInUse()).filter((id) => keyring.get(id) === undefined);
  if (missing.length > 0) {
    throw new KeyringError(
      `The master key does not match the stored secrets: they are sealed under key id(s) ${missing.join(', ')}, which the loaded keyring (${keyring.ids.join(', ')}) does not hold.`,
    );
  }
  return { keyring, created };
}
