import { createCipheriv, createDecipheriv } from 'node:crypto';
import { pooledRandomBytes } from './random-pool.js';
import type { SealedValue } from '../core/model.js';
import type { Keyring } from './keyring.js';

/**
 * Envelope encryption of secret values (invariants in ./README.md).
 *
 *   ciphertext  = 0x01 | nonce(12) | AES-256-GCM(dataKey, value) | tag(16)
 *   wrappedKey  = 0x01 | len(kekId) | kekId | nonce(12) | AES-256-GCM(kek, dataKey) | tag(16)
 *
 * Both carry additional data binding tenant, store, secret and version (and the KEK id for the
 * wrapped key), so a row copied onto another secret or version fails authentication.
 */
const FORMAT_V1 = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;

/** Identifies the one place a sealed value belongs. */
export interface ValueOwner {
  readonly tenantId: string;
  readonly storeId: string;
  readonly secretId: string;
  readonly version: number;
}

export type CryptoErrorCode = 'unknown_kek' | 'authentication_failed' | 'bad_format';

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = 'CryptoError';
    this.code = code;
  }
}

function ownerAad(purpose: 'value' | 'dek', owner: ValueOwner, kekId?: string): Buffer {
  // NUL cannot occur in tenant ids, hex ids or decimal versions, so the encoding is unambiguous.
  const parts = [
    `coffer/v1/${purpose}`,
    owner.tenantId,
    owner.storeId,
    owner.secretId,
    String(owner.version),
  ];
  if (kekId !== undefined) parts.push(kekId);
  return Buffer.from(parts.join('\0'), 'utf8');
}

function gcmSeal(key: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const nonce = pooledRandomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
}

function gcmOpen(key: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES)
    throw new CryptoError('bad_format', 'Sealed data is truncated.');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new CryptoError('authentication_failed', 'Sealed data failed authentication.');
  }
}

function encodeWrappedKey(kekId: string, sealed: Buffer): Buffer {
  const id = Buffer.from(kekId, 'ascii');
  return Buffer.concat([Buffer.from([FORMAT_V1, id.length]), id, sealed]);
}

function decodeWrappedKey(wrapped: Buffer): { kekId: string; sealed: Buffer } {
  if (wrapped.length < 2 || wrapped[0] !== FORMAT_V1) {
    throw new CryptoError('bad_format', 'Unknown wrapped-key format.');
  }
  const idLength = wrapped[1] ?? 0;
  const kekId = wrapped.subarray(2, 2 + idLength).toString('ascii');
  return { kekId, sealed: wrapped.subarray(2 + idLength) };
}

/** Seals a value under a fresh data key, wrapped by the keyring's active KEK. */
export function sealValue(keyring: Keyring, owner: ValueOwner, plaintext: Buffer): SealedValue {
  const dataKey = pooledRandomBytes(DATA_KEY_BYTES);
  try {
    const kek = keyring.active;
    const ciphertext = Buffer.concat([
      Buffer.from([FORMAT_V1]),
      gcmSeal(dataKey, ownerAad('value', owner), plaintext),
    ]);
    const wrappedKey = encodeWrappedKey(kek.id, gcmSeal(kek.key, ownerAad('dek', owner, kek.id), dataKey));
    return { kekId: kek.id, wrappedKey, ciphertext };
  } finally {
    dataKey.fill(0);
  }
}

/** Unwraps the data key and opens the value; any tampering, misplacement or wrong KEK throws CryptoError. */
export function openValue(keyring: Keyring, owner: ValueOwner, sealed: SealedValue): Buffer {
  const { kekId, sealed: wrapped } = decodeWrappedKey(sealed.wrappedKey);
  if (kekId !== sealed.kekId) throw new CryptoError('bad_format', 'Wrapped key names another KEK.');
  const kek = keyring.resolve(kekId);
  if (kek === undefined) throw new CryptoError('unknown_kek', `No master key with id ${kekId} is loaded.`);
  if (sealed.ciphertext[0] !== FORMAT_V1) throw new CryptoError('bad_format', 'Unknown ciphertext format.');
  const dataKey = gcmOpen(kek.key, ownerAad('dek', owner, kekId), wrapped);
  try {
    return gcmOpen(dataKey, ownerAad('value', owner), sealed.ciphertext.subarray(1));
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Master-key rotation: unwraps a version's data key with the KEK that wrapped it and wraps it again
 * under the keyring's active KEK, with the same owner binding. The value's ciphertext is untouched
 * (the data key does not change), so a reader holding either form opens the same plaintext.
 */
export function rewrapDataKey(
  keyring: Keyring,
  owner: ValueOwner,
  current: { kekId: string; wrappedKey: Buffer },
): { kekId: string; wrappedKey: Buffer } {
  const { kekId, sealed } = decodeWrappedKey(current.wrappedKey);
  if (kekId !== current.kekId) throw new CryptoError('bad_format', 'Wrapped key names another KEK.');
  const from = keyring.get(kekId);
  if (from === undefined) throw new CryptoError('unknown_kek', `No master key with id ${kekId} is loaded.`);
  const to = keyring.active;
  const dataKey = gcmOpen(from.key, ownerAad('dek', owner, kekId), sealed);
  try {
    return {
      kekId: to.id,
      wrappedKey: encodeWrappedKey(to.id, gcmSeal(to.key, ownerAad('dek', owner, to.id), dataKey)),
    };
  } finally {
    dataKey.fill(0);
  }
}
