import { InvalidError } from './errors.js';
import type { NamePage, NamePageQuery } from './model.js';
import { SECRET_NAME_PATTERN, STORE_NAME_PATTERN } from './names.js';

/** Most names one keyset page may hold (the /v1 `limit` maximum). */
export const MAX_NAME_PAGE = 1000;

/** What a name of each kind may hold: a prefix with anything else starts no name. */
const KINDS = {
  secret: { name: SECRET_NAME_PATTERN, chars: /^[A-Za-z0-9_-]*$/, max: 127 },
  store: { name: STORE_NAME_PATTERN, chars: /^[A-Za-z0-9._/-]*$/, max: 255 },
} as const;

export type NameKind = keyof typeof KINDS;

/**
 * Checks a keyset page request before it reaches storage: the limit is bounded, and `after` must be
 * a name of that kind (a facade's cursor decoder refuses first; this is the core's own guard, so no
 * facade can hand storage an arbitrary string). Answers true when the prefix can start no name of
 * the kind, so the page is empty without a query.
 */
export function checkNamePage(kind: NameKind, query: NamePageQuery): { empty: boolean } {
  const rules = KINDS[kind];
  if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MAX_NAME_PAGE) {
    throw InvalidError.field('invalid_limit', 'limit', `The page size must be 1-${MAX_NAME_PAGE}.`);
  }
  if (query.after !== null && !rules.name.test(query.after)) {
    throw InvalidError.field('invalid_cursor', 'cursor', 'The cursor is not one this list returned.');
  }
  return { empty: !rules.chars.test(query.prefix) || query.prefix.length > rules.max };
}

export function emptyPage<T>(): NamePage<T> {
  return { items: [], more: false };
}
