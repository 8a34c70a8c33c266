import type { CofferCore } from '../../core/coffer-core.js';
import type { NamePage } from '../../core/model.js';

/**
 * `/v1` list paging is keyset paging by name in storage (`listByName` in the core): a page is one
 * range read of `limit + 1` rows after the previous page's last name. The cursor carries that name,
 * authenticated by the core (`PageCursors`) together with the list it belongs to, so it is opaque
 * to clients and a cursor for another store, tenant or prefix, or an edited one, is a 400
 * `invalid_cursor`.
 */
export type ListBinding = readonly string[];

/** A secret list's binding names the store as the URL does (the core resolves it, inside the list). */
export function secretListBinding(tenant: string, storeRef: string, prefix: string): ListBinding {
  return ['v1-secrets', tenant, storeRef, prefix];
}

export function storeListBinding(tenant: string, prefix: string): ListBinding {
  return ['v1-stores', tenant, prefix];
}

/** The name a request's cursor continues after; null on a first page (no cursor, or an empty one). */
export function afterOf(core: CofferCore, binding: ListBinding, cursor: string | undefined): string | null {
  return cursor === undefined || cursor === '' ? null : core.pageCursors.open(binding, cursor);
}

/** The cursor of the page after this one, or null when it was the last. */
export function nextCursorOf<T extends { readonly name: string }>(
  core: CofferCore,
  binding: ListBinding,
  page: NamePage<T>,
): string | null {
  const last = page.items[page.items.length - 1];
  return page.more && last !== undefined ? core.pageCursors.issue(binding, last.name) : null;
}
