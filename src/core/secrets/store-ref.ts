import { newId } from '../../crypto/tokens.js';
import type { RepositoryTx } from '../ports/repository.js';
import { type Actor, managedScopeOf, requireStorePermission } from '../actor.js';
import { safeName } from '../audit-redaction.js';
import type { AuditEntry } from '../audit-trail.js';
import { NotFoundError, QuotaExceededError, UnavailableError } from '../errors.js';
import type { StoreRecord } from '../model.js';
import { assertStoreName, assertTenantId } from '../names.js';

/**
 * How a caller names the store an operation works in; the core resolves it for the actor, inside the
 * operation (a write's own transaction), never in a facade ahead of the call.
 * - `{id}`: Cloudflare's path ids.
 * - `{name}`: a store that exists once written to (Neostore `default`, envs `{project}/{env}`). It
 *   reads as empty while it does not exist; with `create`, a write creates it in its transaction.
 * - `{ref}`: the native API's path segment, an id or else a name (an id wins).
 */
export type StoreRef =
  { readonly id: string } | { readonly name: string; readonly create?: boolean } | { readonly ref: string };

/** A secret inside a store, by its id (Cloudflare) or its name (everyone else). */
export type SecretRef = { readonly id: string } | { readonly name: string };

/** Store ids, as `newId` makes them. */
export const STORE_ID_PATTERN = /^[0-9a-f]{32}$/;

export function storeNotFound(): NotFoundError {
  return new NotFoundError('store_not_found', 'The store does not exist.');
}

/** The reads a resolution needs: a repository or a transaction. */
export type StoreReads = Pick<RepositoryTx, 'getStoreById' | 'getStoreByName'>;

/**
 * The store an actor may address by id: a tenant key sees its tenant's unmanaged stores, a service
 * only the stores it manages. Anything else is NotFound, never a hint that it exists.
 */
export async function resolveStore(
  reads: Pick<RepositoryTx, 'getStoreById'>,
  actor: Actor,
  tenantId: string,
  storeId: string,
): Promise<StoreRecord> {
  const store = await reads.getStoreById(tenantId, storeId);
  if (store === null) throw storeNotFound();
  if (actor.kind !== 'operator' && store.managedBy !== managedScopeOf(actor)) throw storeNotFound();
  return store;
}

/**
 * The store a `StoreRef` names, for this actor: null only for a `{name}` not created yet (an empty
 * store to read, a store to create to write); NotFound for an `{id}` or `{ref}` that names none.
 */
export async function findStore(
  reads: StoreReads,
  actor: Actor,
  tenantId: string,
  ref: StoreRef,
): Promise<StoreRecord | null> {
  if ('id' in ref) return resolveStore(reads, actor, tenantId, ref.id);
  const scope = managedScopeOf(actor);
  if ('name' in ref) return reads.getStoreByName(tenantId, ref.name, scope);
  if (STORE_ID_PATTERN.test(ref.ref)) {
    const byId = await reads.getStoreById(tenantId, ref.ref);
    if (byId !== null && (actor.kind === 'operator' || byId.managedBy === scope)) return byId;
  }
  const byName = await reads.getStoreByName(tenantId, ref.ref, scope);
  if (byName === null) throw storeNotFound();
  return byName;
}

/**
 * Creates the store, or returns the existing one of that name; for facades that create on first use.
 * This is where a tenant comes into existence (its first store), so the tenant id is checked here.
 * A managed store is a service's: a service never brings a tenant into existence (docs/adr/0007).
 */
export async function ensureStoreInTx(
  tx: RepositoryTx,
  tenantId: string,
  name: string,
  managedBy: string | null,
  now: number,
  storeLimit: number,
): Promise<{ store: StoreRecord; created: boolean }> {
  const existing = await tx.getStoreByName(tenantId, name, managedBy);
  if (existing !== null) return { store: existing, created: false };
  assertTenantId(tenantId);
  if (managedBy !== null && (await tx.getTenant(tenantId)) === null) {
    throw new NotFoundError('tenant_not_found', 'The tenant does not exist.');
  }
  if ((await tx.countStores(tenantId)) >= storeLimit) {
    throw new QuotaExceededError('maximum_stores_exceeded', `The tenant already has ${storeLimit} stores.`);
  }
  await tx.ensureTenant({ id: tenantId, createdAt: now });
  const store: StoreRecord = { id: newId(), tenantId, name, managedBy, createdAt: now, updatedAt: now };
  if (await tx.insertStore(store)) return { store, created: true };
  const raced = await tx.getStoreByName(tenantId, name, managedBy);
  if (raced === null) throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
  return { store: raced, created: false };
}

/**
 * One operation's store: the reference as the caller gave it, resolved once (inside the operation's
 * transaction for a write), and named in the operation's audit events.
 */
export class StoreTarget {
  readonly tenantId: string;
  readonly ref: StoreRef;
  #store: StoreRecord | null = null;
  #created = false;

  constructor(tenantId: string, ref: StoreRef) {
    this.tenantId = tenantId;
    this.ref = ref;
  }

  /**
   * An operation's checks before its store is read: all of them (`checks`, in the operation's order)
   * for an id or a name. A `{ref}` is checked as the native API always did: the lookup's permission
   * now, then the store (404 before 403), then the rest (`checkAfter`), so that a refusal names the
   * store resolved.
   */
  checkBefore(lookup: () => void, checks: () => void): void {
    if ('ref' in this.ref) lookup();
    else checks();
  }

  /** The rest of a `{ref}`'s checks, once the store is resolved (`checkBefore`). */
  checkAfter(checks: () => void): void {
    if ('ref' in this.ref) checks();
  }

  /**
   * The store as audit events name it: by name when addressed by name, else by id (a `{ref}` once
   * resolved: "which store" must not depend on how the URL spelt it; before that, as given).
   */
  get resource(): string {
    const { ref } = this;
    if ('name' in ref) return `store:${safeName(ref.name)}`;
    if ('id' in ref) return `store-id:${safeName(ref.id)}`;
    return this.#store === null ? `store:${safeName(ref.ref)}` : `store-id:${this.#store.id}`;
  }

  /**
   * The `store.create` event of a store this operation created (a `{name, create}` written first),
   * to go before the operation's own events, in its transaction: a store never comes into being
   * unrecorded, whichever facade's first write made it. Empty when the store already existed.
   */
  creationEntries(): AuditEntry[] {
    const store = this.#store;
    if (!this.#created || store === null) return [];
    return [
      { tenantId: this.tenantId, action: 'store.create', resource: `${this.resource}/store-id:${store.id}` },
    ];
  }

  /** The store, or null for a `{name}` that does not exist yet (see `findStore`). */
  async find(reads: StoreReads, actor: Actor): Promise<StoreRecord | null> {
    this.#store = await findStore(reads, actor, this.tenantId, this.ref);
    return this.#store;
  }

  /** The store, created if it is a `{name, create}` not created yet: that needs `secrets:write`. */
  async forWrite(
    tx: RepositoryTx,
    actor: Actor,
    now: number,
    storeLimit: number,
  ): Promise<StoreRecord | null> {
    const found = await this.find(tx, actor);
    const { ref } = this;
    if (found !== null || !('name' in ref) || ref.create !== true) return found;
    requireStorePermission(actor, this.tenantId, 'secrets:write');
    assertStoreName(ref.name);
    const { store, created } = await ensureStoreInTx(
      tx,
      this.tenantId,
      ref.name,
      managedScopeOf(actor),
      now,
      storeLimit,
    );
    this.#store = store;
    this.#created = created;
    return store;
  }
}
