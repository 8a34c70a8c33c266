import { newId } from '../crypto/tokens.js';
import type { Repository, RepositoryTx } from './ports/repository.js';
import { type Actor, managedScopeOf, requireStorePermission } from './actor.js';
import { safeName } from './audit-redaction.js';
import type { AuditTrail } from './audit-trail.js';
import { type Caller, callContextOf } from './call-context.js';
import type { Clock } from './clock.js';
import { ConflictError, NotFoundError, QuotaExceededError, UnavailableError } from './errors.js';
import type { NamePage, NamePageQuery, StorePage, StorePageQuery, StoreRecord } from './model.js';
import { checkNamePage, emptyPage } from './name-paging.js';
import { assertStoreName, assertTenantId } from './names.js';
import type { Permission } from './permissions.js';

export interface StoreServiceDeps {
  readonly repository: Repository;
  readonly clock: Clock;
  /** Most stores one tenant may hold (COFFER_STORE_LIMIT). */
  readonly storeLimit: number;
  readonly audit: AuditTrail;
}

/** Store ids, as `newId` makes them. */
export const STORE_ID_PATTERN = /^[0-9a-f]{32}$/;

const byName = (name: string) => `store:${safeName(name)}`;
const byId = (id: string) => `store-id:${safeName(id)}`;

export function storeNotFound(): NotFoundError {
  return new NotFoundError('store_not_found', 'The store does not exist.');
}

/**
 * The store an actor may address: a tenant key sees its tenant's unmanaged stores, a service only
 * the stores it manages. Anything else is NotFound, never a hint that it exists.
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

/** Stores of a tenant: the Neostore `default`, Cloudflare stores, envs `{project}/{env}` stores. */
export class StoreService {
  readonly #deps: StoreServiceDeps;

  constructor(deps: StoreServiceDeps) {
    this.#deps = deps;
  }

  get storeLimit(): number {
    return this.#deps.storeLimit;
  }

  /** The stores the actor may see, oldest first. */
  async list(caller: Caller, tenantId: string): Promise<StoreRecord[]> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    return this.#deps.audit.read(ctx, { tenantId, action: 'store.list', resource: 'stores' }, async () => {
      requireStorePermission(actor, tenantId, 'secrets:read');
      const scope = managedScopeOf(actor);
      const all = await this.#deps.repository.listStores(tenantId);
      return actor.kind === 'operator' ? all : all.filter((s) => s.managedBy === scope);
    });
  }

  /**
   * One keyset page of the stores the actor may address, by name: a tenant key's are the tenant's
   * own stores, a service's the stores it manages (the operator's: the tenant's own). One audited
   * read and one range read of at most `limit + 1` rows, wherever `after` points.
   */
  async listByName(caller: Caller, tenantId: string, query: NamePageQuery): Promise<NamePage<StoreRecord>> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    return this.#deps.audit.read(ctx, { tenantId, action: 'store.list', resource: 'stores' }, async () => {
      requireStorePermission(actor, tenantId, 'secrets:read');
      const { empty } = checkNamePage('store', query);
      if (empty) return emptyPage<StoreRecord>();
      return this.#deps.repository.listStoresByName(tenantId, managedScopeOf(actor), query);
    });
  }

  /**
   * One offset page of the stores the actor may address, in any order (Cloudflare `page`/`per_page`):
   * one audited read, and LIMIT/OFFSET in storage rather than every store read and sliced.
   */
  async listPage(caller: Caller, tenantId: string, query: StorePageQuery): Promise<StorePage> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    return this.#deps.audit.read(ctx, { tenantId, action: 'store.list', resource: 'stores' }, async () => {
      requireStorePermission(actor, tenantId, 'secrets:read');
      return this.#deps.repository.listStoresPage(tenantId, managedScopeOf(actor), query);
    });
  }

  async get(caller: Caller, tenantId: string, storeId: string): Promise<StoreRecord> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(
      ctx,
      { tenantId, action: 'store.get', resource: byId(storeId) },
      async () => {
        requireStorePermission(ctx.actor, tenantId, 'secrets:read');
        return resolveStore(this.#deps.repository, ctx.actor, tenantId, storeId);
      },
    );
  }

  /**
   * The store of that name, or null. `permission` is the one the caller's operation needs: a key that
   * may only set values (envs `PUT …/value`) must still find the store it writes to.
   */
  async getByName(
    caller: Caller,
    tenantId: string,
    name: string,
    permission: Permission = 'secrets:read',
  ): Promise<StoreRecord | null> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(ctx, { tenantId, action: 'store.get', resource: byName(name) }, async () => {
      requireStorePermission(ctx.actor, tenantId, permission);
      return this.#deps.repository.getStoreByName(tenantId, name, managedScopeOf(ctx.actor));
    });
  }

  /**
   * The store a caller names by reference: its 32-hex id, else its name. An id wins over a store
   * whose name looks like an id. NotFound when neither matches.
   */
  async resolveRef(
    caller: Caller,
    tenantId: string,
    ref: string,
    permission: Permission = 'secrets:read',
  ): Promise<StoreRecord> {
    // A lookup ahead of an operation, which records itself; a refusal here is recorded by the
    // facade's refusal recorder (src/http/audit-refusals.ts).
    const { actor } = callContextOf(caller);
    requireStorePermission(actor, tenantId, permission);
    if (STORE_ID_PATTERN.test(ref)) {
      const byId = await this.#deps.repository.getStoreById(tenantId, ref);
      if (byId !== null && (actor.kind === 'operator' || byId.managedBy === managedScopeOf(actor)))
        return byId;
    }
    const byName = await this.#deps.repository.getStoreByName(tenantId, ref, managedScopeOf(actor));
    if (byName === null) throw storeNotFound();
    return byName;
  }

  /** `resolveRef` as a read of its own (native `GET …/stores/{ref}`), recorded as `store.get`. */
  async getByRef(caller: Caller, tenantId: string, ref: string): Promise<StoreRecord> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'store.get', resource: byName(ref) };
    return this.#deps.audit.read(
      ctx,
      entry,
      () => this.resolveRef(ctx, tenantId, ref),
      undefined,
      (store) => [{ ...entry, resource: `${byName(store.name)}/${byId(store.id)}` }],
    );
  }

  /** A new store; a service's store is managed by it. 409 when the name is taken. */
  async create(caller: Caller, tenantId: string, name: string): Promise<StoreRecord> {
    const [store] = await this.createMany(caller, tenantId, [name]);
    if (store === undefined) throw new UnavailableError('write_conflict', 'The store was not created.');
    return store;
  }

  /** Several new stores in one transaction, all or none (Cloudflare's older array body). */
  async createMany(caller: Caller, tenantId: string, names: readonly string[]): Promise<StoreRecord[]> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const [only] = names;
    const entry = {
      tenantId,
      action: 'store.create',
      resource: names.length === 1 && only !== undefined ? byName(only) : 'stores',
    };
    await this.#deps.audit.check(ctx, entry, () => {
      requireStorePermission(actor, tenantId, 'secrets:write');
      assertTenantId(tenantId, 'account_id');
      names.forEach((name, index) => {
        assertStoreName(name, names.length > 1 ? `[${index}].name` : 'name');
      });
    });
    const managedBy = managedScopeOf(actor);
    const entriesOf = (stores: readonly StoreRecord[]) =>
      stores.map((s) => ({ ...entry, resource: `${byName(s.name)}/${byId(s.id)}` }));
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const now = this.#deps.clock.now();
        const stores: StoreRecord[] = [];
        for (const name of names) {
          const { store, created } = await ensureStoreInTx(
            tx,
            tenantId,
            name,
            managedBy,
            now,
            this.#deps.storeLimit,
          );
          if (!created)
            throw new ConflictError('store_name_taken', `A store named '${name}' already exists.`);
          stores.push(store);
        }
        return stores;
      },
      entriesOf,
    );
  }

  /** The store of that name, created if missing (envs `{project}/{env}` on first declare). */
  async ensure(caller: Caller, tenantId: string, name: string): Promise<StoreRecord> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'store.ensure', resource: byName(name) };
    await this.#deps.audit.check(ctx, entry, () => {
      requireStorePermission(ctx.actor, tenantId, 'secrets:write');
      assertStoreName(name);
    });
    return this.#deps.audit.change(ctx, entry, async (tx) => {
      const now = this.#deps.clock.now();
      const scope = managedScopeOf(ctx.actor);
      return (await ensureStoreInTx(tx, tenantId, name, scope, now, this.#deps.storeLimit)).store;
    });
  }

  /** Deletes a store; one still holding secrets only with `force` (which destroys them), else 409. */
  async delete(
    caller: Caller,
    tenantId: string,
    storeId: string,
    options: { force: boolean },
  ): Promise<void> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'store.delete', resource: byId(storeId) };
    await this.#deps.audit.check(ctx, entry, () =>
      requireStorePermission(ctx.actor, tenantId, 'secrets:write'),
    );
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      const store = await resolveStore(tx, ctx.actor, tenantId, storeId);
      if (!options.force && (await tx.countSecretsInStore(store.id)) > 0) {
        throw new ConflictError(
          'store_not_empty',
          'The store still holds secrets; delete them or pass force=true.',
        );
      }
      await tx.deleteStore(store.id);
    });
  }
}
