import { openValue } from '../../crypto/envelope.js';
import type { Keyring } from '../../crypto/keyring.js';
import type { Repository } from '../ports/repository.js';
import { type Actor, requirePermission, requireStorePermission } from '../actor.js';
import type { AuditTrail } from '../audit-trail.js';
import { type Caller, callContextOf } from '../call-context.js';
import type { Clock } from '../clock.js';
import { InvalidError, NotFoundError, UnavailableError } from '../errors.js';
import {
  type NamePage,
  type NamePageQuery,
  type SecretListQuery,
  type SecretPage,
  type SecretRecord,
  type StoreRecord,
} from '../model.js';
import { checkNamePage, emptyPage } from '../name-paging.js';
import { isWithinWindow } from '../validity-window.js';
import { assertSecretName, DEFAULT_STORE_NAME } from '../names.js';
import {
  entryOf,
  MAX_REVEAL_BATCH,
  missingValue,
  type SecretLimits,
  secretNotFound,
  secretResource,
} from './secret-records.js';
import { type SecretRef, type StoreRef, StoreTarget } from './store-ref.js';

export interface SecretReadsDeps extends Pick<SecretLimits, 'secretQuota'> {
  readonly repository: Repository;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly audit: AuditTrail;
}

export interface OpenedValue {
  readonly name: string;
  readonly version: number;
  readonly value: Buffer;
}

/** Rows per range read when a whole store is listed. */
const LIST_ALL_BATCH = 500;

/**
 * Every read of secrets: metadata, values, the quota. Each public method is one audited read that
 * resolves its store itself; a `{name}` store not created yet reads as empty.
 */
export class SecretReads {
  readonly #deps: SecretReadsDeps;

  constructor(deps: SecretReadsDeps) {
    this.#deps = deps;
  }

  /**
   * The store of a read, with the read's checks around the lookup (`StoreTarget.checkBefore`):
   * `checks` are all of them in order, `lookup` the permission a `{ref}` needs to be looked up.
   */
  async #store(
    actor: Actor,
    target: StoreTarget,
    lookup: () => void,
    checks: () => void = lookup,
  ): Promise<StoreRecord | null> {
    target.checkBefore(lookup, checks);
    const store = await target.find(this.#deps.repository, actor);
    target.checkAfter(checks);
    return store;
  }

  /** Names of the secrets in a store that hold a value, sorted ordinally. A store not yet created is empty. */
  async listNames(caller: Caller, tenantId: string, storeName = DEFAULT_STORE_NAME): Promise<string[]> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: storeName });
    return this.#deps.audit.read(ctx, entryOf(target, 'secret.list'), async () => {
      const store = await this.#store(ctx.actor, target, () =>
        requirePermission(ctx.actor, tenantId, 'secrets:read'),
      );
      return store ? this.#deps.repository.listSecretNamesWithValue(store.id) : [];
    });
  }

  /** Neostore's read: the current value, if it exists and `now` is inside its validity window; otherwise NotFound. */
  async reveal(
    caller: Caller,
    tenantId: string,
    name: string,
    storeName = DEFAULT_STORE_NAME,
  ): Promise<Buffer> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: storeName });
    // An unrecorded read must not return the value: it is wiped if its event cannot be written.
    const wipe = (plaintext: Buffer) => plaintext.fill(0);
    return this.#deps.audit.read(
      ctx,
      entryOf(target, 'secret.reveal', { name }),
      async () => {
        requirePermission(ctx.actor, tenantId, 'secrets:reveal');
        assertSecretName(name);
        // One read joining store, secret and current version: the hottest path of all.
        const row = await this.#deps.repository.getCurrentValue(tenantId, storeName, name);
        const now = this.#deps.clock.now();
        if (row === null || !isWithinWindow(row, now)) {
          throw missingValue(ctx.actor, tenantId, row, now, secretNotFound);
        }
        return openValue(
          this.#deps.keyring,
          { tenantId, storeId: row.storeId, secretId: row.secretId, version: row.version },
          row.sealed,
        );
      },
      wipe,
    );
  }

  /** One offset page of a store's secrets (metadata only, never values). */
  async listInStore(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    query: SecretListQuery,
  ): Promise<SecretPage> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, storeRef);
    return this.#deps.audit.read(ctx, entryOf(target, 'secret.list'), async () => {
      const store = await this.#store(ctx.actor, target, () =>
        requireStorePermission(ctx.actor, tenantId, 'secrets:read'),
      );
      return store === null ? { items: [], total: 0 } : this.#deps.repository.listSecrets(store.id, query);
    });
  }

  /**
   * One keyset page of a store's secrets by name (metadata only): one audited read and one range
   * read of at most `limit + 1` rows, wherever `after` points.
   */
  async listByName(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    query: NamePageQuery,
  ): Promise<NamePage<SecretRecord>> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    return this.#deps.audit.read(ctx, entryOf(target, 'secret.list'), async () => {
      let empty = false;
      const store = await this.#store(
        actor,
        target,
        () => requireStorePermission(actor, tenantId, 'secrets:read'),
        () => {
          requirePermission(actor, tenantId, 'secrets:read');
          empty = checkNamePage('secret', query).empty;
        },
      );
      return empty || store === null
        ? emptyPage<SecretRecord>()
        : this.#deps.repository.listSecretsByName(store.id, query);
    });
  }

  /**
   * Every secret of a store by name (envs lists a whole environment): one audited read, walked in
   * keyset batches so that each batch is one range read however large the store is.
   */
  async listAllByName(caller: Caller, tenantId: string, storeRef: StoreRef): Promise<SecretRecord[]> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, storeRef);
    return this.#deps.audit.read(ctx, entryOf(target, 'secret.list'), async () => {
      const store = await this.#store(ctx.actor, target, () =>
        requirePermission(ctx.actor, tenantId, 'secrets:read'),
      );
      const all: SecretRecord[] = [];
      if (store === null) return all;
      for (let after: string | null = null; ;) {
        const page = await this.#deps.repository.listSecretsByName(store.id, {
          prefix: '',
          after,
          limit: LIST_ALL_BATCH,
        });
        all.push(...page.items);
        const last = page.items[page.items.length - 1];
        if (!page.more || last === undefined) return all;
        after = last.name;
      }
    });
  }

  /** One secret's metadata, by id or by name. */
  async get(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    secretRef: SecretRef,
  ): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    return this.#deps.audit.read(ctx, entryOf(target, 'secret.get', secretRef), async () => {
      const store = await this.#store(
        actor,
        target,
        () => requireStorePermission(actor, tenantId, 'secrets:read'),
        () => {
          requireStorePermission(actor, tenantId, 'secrets:read');
          if ('name' in secretRef) assertSecretName(secretRef.name, 'name');
        },
      );
      if (store === null) throw secretNotFound();
      const secret =
        'id' in secretRef
          ? await this.#deps.repository.getSecretById(store.id, secretRef.id)
          : await this.#deps.repository.getSecret(store.id, secretRef.name);
      if (secret === null) throw secretNotFound();
      return secret;
    });
  }

  /**
   * The metadata and current value of one secret, the value being exactly the version the metadata
   * names. NotFound when it is missing, has no value, or `now` is outside its window.
   */
  async revealByName(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    name: string,
  ): Promise<{ secret: SecretRecord; value: Buffer }> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    const valueNotFound = () =>
      new NotFoundError('secret_value_not_found', 'The secret does not exist or has no usable value.');
    return this.#deps.audit.read(
      ctx,
      entryOf(target, 'secret.reveal', { name }),
      async () => {
        const store = await this.#store(
          actor,
          target,
          () => requireStorePermission(actor, tenantId, 'secrets:read'),
          () => {
            requireStorePermission(actor, tenantId, 'secrets:read');
            requireStorePermission(actor, tenantId, 'secrets:reveal');
            assertSecretName(name, 'name');
          },
        );
        if (store === null) throw valueNotFound();
        const opened = await this.#openCurrent(tenantId, store.id, name);
        if (opened === null) {
          // The failure path only: one more read, to tell a secret not valid yet from one missing.
          const secret = await this.#deps.repository.getSecret(store.id, name);
          const window = secret?.currentVersion === null ? null : (secret ?? null);
          throw missingValue(actor, tenantId, window, this.#deps.clock.now(), valueNotFound);
        }
        return opened;
      },
      // An unrecorded read must not return the value.
      (opened) => opened.value.fill(0),
    );
  }

  /**
   * Values of several secrets of a store in one call: `names`, or every secret holding a value when
   * null (which also needs `secrets:read`, as it discloses names). Missing, valueless, expired and
   * not-yet-valid secrets are listed in `missing`, in the order asked.
   */
  async revealMany(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    names: readonly string[] | null,
  ): Promise<{ secrets: OpenedValue[]; missing: string[] }> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, storeRef);
    // One event for the batch, naming the store, then one `secret.reveal` per value disclosed, as a
    // single reveal writes: "who read X" finds batch reads too. Names asked but not disclosed are not.
    const entry = entryOf(target, 'secret.reveal-batch');
    return this.#deps.audit.read(
      ctx,
      entry,
      () => this.#revealMany(ctx.actor, target, names),
      (result) => {
        for (const s of result.secrets) s.value.fill(0);
      },
      (result) => [
        { ...entry },
        ...result.secrets.map((s) => ({
          tenantId,
          action: 'secret.reveal',
          resource: secretResource(target.resource, { name: s.name }),
        })),
      ],
    );
  }

  async #revealMany(
    actor: Actor,
    target: StoreTarget,
    names: readonly string[] | null,
  ): Promise<{ secrets: OpenedValue[]; missing: string[] }> {
    const { tenantId } = target;
    const store = await this.#store(
      actor,
      target,
      () => requireStorePermission(actor, tenantId, 'secrets:reveal'),
      () => {
        requireStorePermission(actor, tenantId, 'secrets:reveal');
        if (names === null) requireStorePermission(actor, tenantId, 'secrets:read');
        else {
          if (names.length > MAX_REVEAL_BATCH) {
            throw InvalidError.field(
              'too_many_names',
              'names',
              `At most ${MAX_REVEAL_BATCH} names per call.`,
            );
          }
          names.forEach((n, i) => assertSecretName(n, `names[${i}]`));
        }
      },
    );
    const wanted =
      names === null
        ? store === null
          ? []
          : await this.#deps.repository.listSecretNamesWithValue(store.id)
        : [...new Set(names)];
    if (wanted.length > MAX_REVEAL_BATCH) {
      throw new InvalidError(
        'too_many_secrets',
        `The store holds more than ${MAX_REVEAL_BATCH} secrets with a value: name the ones wanted.`,
      );
    }
    const secrets: OpenedValue[] = [];
    const missing: string[] = [];
    for (const name of wanted) {
      const opened = store === null ? null : await this.#openCurrent(tenantId, store.id, name);
      if (opened === null || opened.secret.currentVersion === null) missing.push(name);
      else secrets.push({ name, version: opened.secret.currentVersion, value: opened.value });
    }
    return { secrets, missing };
  }

  async #openCurrent(
    tenantId: string,
    storeId: string,
    name: string,
  ): Promise<{ secret: SecretRecord; value: Buffer } | null> {
    // Two reads outside a transaction: a version named by the metadata can only vanish if ten newer
    // ones were written in between, so one re-read settles any race.
    for (let attempt = 0; attempt < 3; attempt++) {
      const secret = await this.#deps.repository.getSecret(storeId, name);
      if (secret === null || secret.currentVersion === null) return null;
      if (!isWithinWindow(secret, this.#deps.clock.now())) return null;
      const version = await this.#deps.repository.getVersion(secret.id, secret.currentVersion);
      if (version === null) continue;
      const value = openValue(
        this.#deps.keyring,
        { tenantId, storeId, secretId: secret.id, version: version.version },
        version,
      );
      return { secret, value };
    }
    throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
  }

  /** The tenant's secret count against its quota. */
  async quota(caller: Caller, tenantId: string): Promise<{ quota: number; usage: number }> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(ctx, { tenantId, action: 'secret.quota', resource: 'quota' }, async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      return {
        quota: this.#deps.secretQuota,
        usage: await this.#deps.repository.countSecretsInTenant(tenantId),
      };
    });
  }
}
