import { InvalidError } from '../../core/errors.js';
import type { SecretPrecondition } from '../../core/secret-service.js';

/** A secret's entity tag: its current version, 0 while it has no value. */
export function secretEtag(version: number | null): string {
  return `"${version ?? 0}"`;
}

const ENTITY_TAG = /^"(0|[1-9][0-9]{0,14})"$/;

/**
 * `If-Match: *` (the secret exists), `If-Match: "<version>"` (and is at that version) or
 * `If-None-Match: *` (it does not exist yet, on PUT). One tag, strong: a list or a weak tag is a 400
 * rather than a guess, since a wrong guess would let a stale write through.
 */
export function preconditionOf(
  headers: Record<string, string | string[] | undefined>,
  allowIfNoneMatch: boolean,
): SecretPrecondition | undefined {
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  if (
    Array.isArray(ifMatch) ||
    Array.isArray(ifNoneMatch) ||
    (ifMatch !== undefined && ifNoneMatch !== undefined)
  ) {
    throw InvalidError.field(
      'invalid_precondition',
      'If-Match',
      'Send one If-Match or one If-None-Match header.',
    );
  }
  if (ifNoneMatch !== undefined) {
    if (!allowIfNoneMatch || ifNoneMatch.trim() !== '*') {
      throw InvalidError.field(
        'invalid_precondition',
        'If-None-Match',
        allowIfNoneMatch ? 'Only `If-None-Match: *` is supported.' : 'If-None-Match is not supported here.',
      );
    }
    return { kind: 'absent' };
  }
  if (ifMatch === undefined) return undefined;
  const tag = ifMatch.trim();
  if (tag === '*') return { kind: 'exists' };
  const m = ENTITY_TAG.exec(tag);
  if (m?.[1] === undefined) {
    throw InvalidError.field(
      'invalid_precondition',
      'If-Match',
      'If-Match must be `*` or one quoted version, e.g. `"3"` (the ETag of a read).',
    );
  }
  return { kind: 'version', version: Number(m[1]) };
}
