import type { NamePageQuery } from '../core/model.js';

/**
 * The index range a keyset page over names reads, the same for every engine: names from `from`
 * (exclusive when it is the previous page's last name) and below `below` (null: no upper bound).
 * Both engines compare names byte-wise in UTF-8 (SQLite BINARY, PostgreSQL COLLATE "C"), which is
 * code point order, so the range is computed in code points, not JavaScript's UTF-16 units.
 */
export interface NameRange {
  readonly from: string;
  readonly inclusive: boolean;
  readonly below: string | null;
}

const MAX_CODE_POINT = 0x10ffff;

function ordinal(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The least string greater than every string starting with `prefix`: its last code point plus one
 * (dropping trailing U+10FFFF, stepping over the surrogates). Null when there is none ('' included).
 */
export function prefixUpperBound(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (points.length > 0 && points[points.length - 1] === MAX_CODE_POINT) points.pop();
  const last = points.pop();
  if (last === undefined) return null;
  const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
  return String.fromCodePoint(...points, next);
}

export function nameRange(query: NamePageQuery): NameRange {
  const below = prefixUpperBound(query.prefix);
  if (query.after !== null && ordinal(query.after, query.prefix) >= 0) {
    return { from: query.after, inclusive: false, below };
  }
  return { from: query.prefix, inclusive: true, below };
}
