import { createHash } from 'node:crypto';

export const KEK_BYTES = 32;

/** A key-encryption key: wraps per-version data keys, never seals a value itself. */
export interface Kek {
  readonly id: string;
  readonly key: Buffer;
}

/**
 * A KEK's id is derived from its material, so the id stored beside each wrapped key also tells
 * whether the key in hand is the one that wrapped it: a wrong master key is caught at start-up
 * instead of surfacing as failed reads. The derivation is one-way and reveals nothing of the key.
 */
export function kekIdFor(key: Buffer): string {
  return `k1${createHash('sha256').update('coffer/kek-id/v1\0').update(key).digest('hex').slice(0, 16)}`;
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

/**
 * The KEKs in hand, one of them active (used for new data keys). Never stored in the database.
 *
 * One Keyring object lives as long as the process and every service holds it; master-key rotation
 * changes its contents in place (`adopt`), so a running server picks up a new KEK without being
 * rewired. A value naming a KEK id the keyring lacks triggers one refresh (`resolve`) before it
 * fails: another node or the CLI may have re-wrapped it under a key added a moment ago.
 */
export class Keyring {
  #keys: ReadonlyMap<string, Kek>;
  #active: Kek;
  #refresh: (() => void) | null = null;

  constructor(keys: readonly Buffer[], activeIndex = keys.length - 1) {
    const map = new Map<string, Kek>();
    for (const key of keys) {
      if (key.length !== KEK_BYTES) throw new KeyringError(`A master key must be ${KEK_BYTES} bytes.`);
      const kek = { id: kekIdFor(key), key };
      map.set(kek.id, kek);
    }
    const active = keys[activeIndex];
    if (active === undefined) throw new KeyringError('The keyring holds no key.');
    this.#keys = map;
    this.#active = { id: kekIdFor(active), key: active };
  }

  get active(): Kek {
    return this.#active;
  }

  get(id: string): Kek | undefined {
    return this.#keys.get(id);
  }

  /** `get`, and when the id is unknown, one refresh from the keyring's source and a second try. */
  resolve(id: string): Kek | undefined {
    const kek = this.#keys.get(id);
    if (kek !== undefined || this.#refresh === null) return kek;
    this.#refresh();
    return this.#keys.get(id);
  }

  /** Where `resolve` reloads from (the keyring file); absent for a key given in the environment. */
  setRefresher(refresh: (() => void) | null): void {
    this.#refresh = refresh;
  }

  /** Takes over another keyring's keys and active key, in one synchronous step. */
  adopt(next: Keyring): void {
    this.#keys = next.#keys;
    this.#active = next.#active;
  }

  get ids(): string[] {
    return [...this.#keys.keys()];
  }
}
