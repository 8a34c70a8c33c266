import type { Repository } from './ports/repository.js';
import { managedScopeOf, requireStorePermission } from './actor.js';
import { safeName } from './audit-redaction.js';
import type { AuditTrail } from './audit-trail.js';
import { type Caller, callContextOf } from './call-context.js';
import type { Clock } from './clock.js';
import { ConflictError, UnavailableError } from './errors.js';
import type { NamePage, NamePageQuery, StorePage, StorePageQuery, StoreRecord } from './model.js';
import { checkNamePage, emptyPage } from './name-paging.js';
import { assertStoreName, assertTenantId } from './names.js';
import {
  ensureStoreInTx,
  findStore,
  resolveStore,
  type StoreRef,
  StoreTarget,
  storeNotFound,
} from './secrets/store-ref.js';

export { ensureStoreInTx, resolveStore, STORE_ID_PATTERN, storeNotFound } from './secrets/store-ref.js';

export interface StoreServiceDeps {
  readonly repository: Repository;
  readonly clock: Clock;
  /** Most stores one tenant may hold (COFFER_STORE_LIMIT). */
  readonly storeLimit: number;
  readonly audit: AuditTrail;
}

const byName = (name: string) => `store:${safeName(name)}`;
const byId = (id: string) => `store-id:${safeName(id)}`;

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

  /** The store of that name, or null. */
  async getByName(caller: Caller, tenantId: string, name: string): Promise<StoreRecord | null> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(ctx, { tenantId, action: 'store.get', resource: byName(name) }, async () => {
      requireStorePermission(ctx.actor, tenantId, 'secrets:read');
      return this.#deps.repository.getStoreByName(tenantId, name, managedScopeOf(ctx.actor));
    });
  }

  /**
   * The store a caller names by reference: its 32-hex id, else its name. An id wins over a store
   * whose name looks like an id. NotFound when neither matches. Unaudited: facades never call it
   * (their operations take a `StoreRef` and resolve it themselves); the local CLI does, ahead of
   * operations that record themselves.
   */
  async resolveRef(caller: Caller, tenantId: string, ref: string): Promise<StoreRecord> {
    const { actor } = callContextOf(caller);
    requireStorePermission(actor, tenantId, 'secrets:read');
    const store = await findStore(this.#deps.repository, actor, tenantId, { ref });
    if (store === null) throw storeNotFound();
    return store;
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

  /**
   * Deletes a store, resolved inside the transaction; one still holding secrets only with `force`
   * (which destroys them), else 409. Answers the store deleted.
   */
  async delete(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    options: { force: boolean },
  ): Promise<StoreRecord> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, storeRef);
    const entry = {
      tenantId,
      action: 'store.delete',
      get resource() {
        return target.resource;
      },
    };
    await this.#deps.audit.check(ctx, entry, () =>
      requireStorePermission(ctx.actor, tenantId, 'secrets:write'),
    );
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const store = await target.find(tx, ctx.actor);
        if (store === null) throw storeNotFound();
        if (!options.force && (await tx.countSecretsInStore(store.id)) > 0) {
          throw new ConflictError(
            'store_not_empty',
            'The store still holds secrets; delete them or pass force=true.',
          );
        }
        await tx.deleteStore(store.id);
        return store;
      },
      () => [{ ...entry }],
    );
  }
}
