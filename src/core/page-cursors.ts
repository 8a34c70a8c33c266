import { CURSOR_TAG_BYTES, cursorTag, cursorTagMatches } from '../crypto/cursor-mac.js';
import type { Keyring } from '../crypto/keyring.js';
import { InvalidError } from './errors.js';

const TAG_CHARS = Math.ceil((CURSOR_TAG_BYTES * 8) / 6);
const CURSOR_SHAPE = new RegExp(`^([A-Za-z0-9_-]{1,400})\\.([A-Za-z0-9_-]{${TAG_CHARS}})$`);

function invalidCursor(): InvalidError {
  return InvalidError.field('invalid_cursor', 'cursor', 'The cursor is not one this list returned.');
}

/**
 * Paging cursors for keyset lists: the last name of a page, authenticated together with the list it
 * was issued for (`binding`: e.g. tenant, store and prefix). A cursor that was not issued by Coffer,
 * was edited, or is presented to another list is refused as `invalid_cursor`. Keyset paging already
 * makes any `after` cost one page; the tag makes the cursor opaque and keeps clients from building
 * their own, so its format can change without breaking anyone who follows the contract.
 */
export class PageCursors {
  readonly #keyring: Keyring;

  constructor(keyring: Keyring) {
    this.#keyring = keyring;
  }

  issue(binding: readonly string[], after: string): string {
    const tag = cursorTag(this.#keyring, messageOf(binding, after));
    return `${Buffer.from(after, 'utf8').toString('base64url')}.${tag.toString('base64url')}`;
  }

  /** The name a cursor continues after; InvalidError `invalid_cursor` unless issued for `binding`. */
  open(binding: readonly string[], cursor: string): string {
    const match = CURSOR_SHAPE.exec(cursor);
    const [, body, tag] = match ?? [];
    if (body === undefined || tag === undefined) throw invalidCursor();
    const after = Buffer.from(body, 'base64url').toString('utf8');
    // One encoding per cursor: anything that does not round-trip was not issued here.
    if (Buffer.from(after, 'utf8').toString('base64url') !== body) throw invalidCursor();
    if (!cursorTagMatches(this.#keyring, messageOf(binding, after), Buffer.from(tag, 'base64url'))) {
      throw invalidCursor();
    }
    return after;
  }
}

/** Unambiguous: JSON of the list's binding and the name. */
function messageOf(binding: readonly string[], after: string): string {
  return JSON.stringify(['coffer-page-cursor', ...binding, after]);
}
