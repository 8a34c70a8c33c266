import type { Secret } from './coffer-api.js';

export type Validity = 'no-value' | 'not-yet-valid' | 'expired' | 'valid';

/** Whether a secret's value can be read now, as Coffer decides it (notBefore ≤ now < expiresOn). */
export function validityOf(
  secret: Pick<Secret, 'hasValue' | 'notBefore' | 'expiresOn'>,
  now = Date.now(),
): Validity {
  if (!secret.hasValue) return 'no-value';
  if (secret.expiresOn !== null && Date.parse(secret.expiresOn) <= now) return 'expired';
  if (secret.notBefore !== null && Date.parse(secret.notBefore) > now) return 'not-yet-valid';
  return 'valid';
}

export const VALIDITY_LABEL: Record<Validity, string> = {
  'no-value': 'No value',
  'not-yet-valid': 'Not yet valid',
  expired: 'Expired',
  valid: 'Valid',
};
