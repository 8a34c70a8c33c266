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

/** The KEKs in hand, one of them active (used for new data keys). Never stored in the database. */
export class Keyring {
  readonly #keys: ReadonlyMap<string, Kek>;
  readonly active: Kek;

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
    this.active = { id: kekIdFor(active), key: active };
  }

  get(id: string): Kek | undefined {
    return this.#keys.get(id);
  }

  get ids(): string[] {
    return [...this.#keys.keys()];
  }
}
