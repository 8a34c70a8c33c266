import type { SecretRecord, StoreRecord } from '../../core/model.js';
import type { ResultInfo, SecretView, StoreView } from './cloudflare-schemas.js';

export const DEFAULT_PER_PAGE = 20;

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

export function storeView(store: StoreRecord): StoreView {
  return {
    id: store.id,
    name: store.name,
    created: iso(store.createdAt),
    modified: iso(store.updatedAt),
    account_id: store.tenantId,
  };
}

/** Never a value: the secret view has no field that could carry one. */
export function secretView(secret: SecretRecord, deleted = false): SecretView {
  return {
    id: secret.id,
    name: secret.name,
    store_id: secret.storeId,
    status: deleted ? 'deleted' : secret.currentVersion === null ? 'pending' : 'active',
    created: iso(secret.createdAt),
    modified: iso(secret.updatedAt),
    // wrangler calls `scopes.join(…)`: both fields are always present.
    scopes: [...secret.scopes],
    comment: secret.description ?? '',
  };
}

export interface PageRequest {
  readonly page: number;
  readonly perPage: number;
  readonly offset: number;
}

/** `page` missing or 0 is the first page; pages past the end are empty, never clamped (the SDK stops on []). */
export function pageRequestOf(query: { page?: number; per_page?: number }): PageRequest {
  const page = Math.max(1, query.page ?? 1);
  const perPage = query.per_page ?? DEFAULT_PER_PAGE;
  return { page, perPage, offset: (page - 1) * perPage };
}

export function resultInfoOf(request: PageRequest, count: number, total: number): ResultInfo {
  return { count, page: request.page, per_page: request.perPage, total_count: total };
}

/** `scopes=a&scopes=b` and `scopes=a,b` alike, de-duplicated. */
export function scopeFilterOf(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return [...new Set(values.flatMap((v) => v.split(',')))];
}
