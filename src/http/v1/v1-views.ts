import type { SecretRecord, StoreRecord } from '../../core/model.js';
import type { SecretView, StoreView } from './v1-schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function storeView(s: StoreRecord): StoreView {
  return { id: s.id, name: s.name, createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt) };
}

/** A secret's metadata; the value only when the caller asked for it and may see it. */
export function secretView(s: SecretRecord, value?: Buffer): SecretView {
  const view: SecretView = {
    id: s.id,
    name: s.name,
    storeId: s.storeId,
    description: s.description,
    scopes: [...s.scopes],
    version: s.currentVersion,
    hasValue: s.currentVersion !== null,
    notBefore: isoOrNull(s.notBefore),
    expiresOn: isoOrNull(s.expiresOn),
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
  return value === undefined ? view : { ...view, value: value.toString('utf8') };
}
