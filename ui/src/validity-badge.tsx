import type { Secret } from './coffer-api.js';
import { VALIDITY_LABEL, validityOf } from './secret-validity.js';

/** The state of a secret's value in words (never colour alone). */
export function ValidityBadge({ secret }: { secret: Secret }) {
  const validity = validityOf(secret);
  return <span class={`badge badge-${validity}`}>{VALIDITY_LABEL[validity]}</span>;
}
