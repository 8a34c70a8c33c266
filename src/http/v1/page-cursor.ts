import { InvalidError } from '../../core/errors.js';

/**
 * A list position: the last name returned, the prefix it was listed under, and the offset it was
 * found at. The name alone decides where the next page starts (keyset); the offset is only a hint
 * that spares a scan, so writes between two pages never make an item repeat or be skipped.
 */
export interface PageCursor {
  readonly after: string;
  readonly prefix: string;
  readonly offset: number;
}

export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(
    JSON.stringify({ a: cursor.after, p: cursor.prefix, o: cursor.offset }),
    'utf8',
  ).toString('base64url');
}

function invalidCursor(): InvalidError {
  return InvalidError.field('invalid_cursor', 'cursor', 'The cursor is not one this list returned.');
}

/** The cursor of a request, checked against the request's own prefix; null on a first page. */
export function decodeCursor(raw: string | undefined, prefix: string): PageCursor | null {
  if (raw === undefined || raw === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const { a, p, o } = (parsed ?? {}) as { a?: unknown; p?: unknown; o?: unknown };
  if (
    typeof a !== 'string' ||
    typeof p !== 'string' ||
    typeof o !== 'number' ||
    !Number.isSafeInteger(o) ||
    o < 0
  ) {
    throw invalidCursor();
  }
  if (p !== prefix) {
    throw InvalidError.field('invalid_cursor', 'cursor', 'The cursor belongs to a list with another prefix.');
  }
  return { after: a, prefix: p, offset: o };
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/**
 * One page of a list sorted by unique names, read through `fetch(offset, limit)`. From the cursor's
 * offset hint it steps back (doubling) until it stands at or before the last name returned, then
 * reads forward keeping only later names.
 */
export async function pageByName<T extends { readonly name: string }>(
  fetch: (offset: number, limit: number) => Promise<readonly T[]>,
  cursor: PageCursor | null,
  prefix: string,
  limit: number,
): Promise<Page<T>> {
  const after = cursor?.after ?? null;
  let start = cursor?.offset ?? 0;
  for (let back = 1; after !== null && start > 0; back *= 2) {
    const [first] = await fetch(start, 1);
    if (first !== undefined && first.name <= after) break;
    start = Math.max(0, start - back);
  }
  const kept: { item: T; offset: number }[] = [];
  for (let offset = start; kept.length <= limit;) {
    const batch = await fetch(offset, limit + 1);
    batch.forEach((item, i) => {
      if (after === null || item.name > after) kept.push({ item, offset: offset + i });
    });
    if (batch.length < limit + 1) break;
    offset += batch.length;
  }
  const items = kept.slice(0, limit);
  const last = items[items.length - 1];
  const nextCursor =
    kept.length > limit && last !== undefined
      ? encodeCursor({ after: last.item.name, prefix, offset: last.offset + 1 })
      : null;
  return { items: items.map((k) => k.item), nextCursor };
}
