import { rowMappers } from '../row-mappers.js';

/** SQLite has no booleans (0/1) and no arrays (lists are JSON text). */
export const {
  str,
  num,
  numOrNull,
  blob,
  toApiKey,
  toService,
  toStore,
  toSecret,
  toVersion,
  toAuditEvent,
  toWebhook,
  toWebhookDelivery,
  toSecretSettings,
  toStoreSettings,
  toVersionState,
  toIssuedToken,
} = rowMappers({
  engine: 'sqlite',
  integer: (v) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined),
  boolean: (v) => (v === 0 || v === 1 ? v === 1 : undefined),
  strings: (v) => {
    if (typeof v !== 'string') return undefined;
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : undefined;
  },
});
