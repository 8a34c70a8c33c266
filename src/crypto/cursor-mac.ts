import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Kek, Keyring } from './keyring.js';

/** Paging cursors carry a 128-bit HMAC-SHA-256 tag: enough that a forged one is never accepted. */
export const CURSOR_TAG_BYTES = 16;

/**
 * The cursor key of a KEK, derived by HKDF under a label of its own: it authenticates cursors and
 * nothing else, and reveals nothing of the KEK (which never MACs or seals anything but data keys).
 */
function cursorKey(kek: Kek): Buffer {
  return Buffer.from(hkdfSync('sha256', kek.key, Buffer.alloc(0), 'coffer/page-cursor/v1', 32));
}

function tagWith(kek: Kek, message: string): Buffer {
  return createHmac('sha256', cursorKey(kek)).update(message, 'utf8').digest().subarray(0, CURSOR_TAG_BYTES);
}

/** The tag of a cursor's message, under the active KEK's cursor key. */
export function cursorTag(keyring: Keyring, message: string): Buffer {
  return tagWith(keyring.active, message);
}

/**
 * Whether `tag` is the tag of `message` under any KEK in hand, so that cursors issued before a
 * master-key rotation (or by a node that rotated first) keep working while their KEK is held.
 */
export function cursorTagMatches(keyring: Keyring, message: string, tag: Buffer): boolean {
  if (tag.length !== CURSOR_TAG_BYTES) return false;
  return keyring.ids.some((id) => {
    const kek = keyring.get(id);
    return kek !== undefined && timingSafeEqual(tagWith(kek, message), tag);
  });
}
