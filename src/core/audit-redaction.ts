import { isWellFormedToken } from '../crypto/tokens.js';

const SAFE_NAME = /^[A-Za-z0-9._/-]{1,255}$/;

/**
 * A name as it may appear in an audit event's resource. Refused calls carry whatever the caller
 * sent, so anything that is not name-shaped, or has the shape of a Coffer token, is not written.
 * A file of its own so that `npm run mutation` mutates exactly it (stryker.config.json).
 */
export function safeName(value: string): string {
  if (!SAFE_NAME.test(value)) return '(invalid)';
  if (isWellFormedToken(value)) return '(token-like)';
  return value;
}
