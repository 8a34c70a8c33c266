import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { pooledRandomBytes } from './random-pool.js';

/**
 * API tokens: `coffer_` + 43 base62 characters (256 random bits) + a 6-character base62 checksum.
 * Base62 keeps the token one "word" (double-click selects it whole); the checksum lets a scanner, or
 * the server before any database lookup, tell a real token from noise. Only SHA-256(token) is stored.
 */
export const TOKEN_PREFIX = 'coffer_';
const RANDOM_BYTES = 32;
const BODY_CHARS = 43; // ceil(256 / log2(62))
const CHECKSUM_CHARS = 6; // 62^6 > 2^32
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const TOKEN_LENGTH = TOKEN_PREFIX.length + BODY_CHARS + CHECKSUM_CHARS;
const TOKEN_SHAPE = new RegExp(`^${TOKEN_PREFIX}[0-9A-Za-z]{${BODY_CHARS + CHECKSUM_CHARS}}$`);
/** How much of a token may be shown to tell keys apart (prefix + 4 random characters). */
export const DISPLAY_PREFIX_LENGTH = TOKEN_PREFIX.length + 4;

function base62(bytes: Buffer, width: number): string {
  let n = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(width, '0');
}

function checksum(body: string): string {
  const digest = createHash('sha256').update(TOKEN_PREFIX).update(body).digest();
  // 32 bits in plain number arithmetic: this runs on every authenticated request.
  let n = digest.readUInt32BE(0);
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function generateToken(): string {
  const body = base62(randomBytes(RANDOM_BYTES), BODY_CHARS);
  return `${TOKEN_PREFIX}${body}${checksum(body)}`;
}

/** Prefix, length and alphabet only (no hashing): the cheapest test a presented token must pass. */
export function hasTokenShape(token: string): boolean {
  return token.length === TOKEN_LENGTH && TOKEN_SHAPE.test(token);
}

/** Shape and checksum only: no secret is involved, so this may be checked before any lookup. */
export function isWellFormedToken(token: string): boolean {
  if (!hasTokenShape(token)) return false;
  const body = token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_CHARS);
  return checksum(body) === token.slice(TOKEN_PREFIX.length + BODY_CHARS);
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function displayPrefix(token: string): string {
  return token.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** Constant-time equality of two token hashes. */
export function hashesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 32 lowercase hex characters: ids of stores and secrets. */
export function newId(): string {
  return pooledRandomBytes(16).toString('hex');
}
