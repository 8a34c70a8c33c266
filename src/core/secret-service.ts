import { openValue, sealValue } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import { newId } from '../crypto/tokens.js';
import type { Repository, RepositoryTx } from './ports/repository.js';
import { type Actor, holdsPermission, requirePermission, requireStorePermission } from './actor.js';
import { safeName } from './audit-redaction.js';
import { isWithinWindow } from './validity-window.js';
import type { AuditEntry, AuditTrail } from './audit-trail.js';
import { type Caller, callContextOf } from './call-context.js';
import type { Clock } from './clock.js';
import {
  ConflictError,
  InvalidError,
  NotFoundError,
  QuotaExceededError,
  SecretNotYetValidError,
  UnavailableError,
} from './errors.js';
import {
  type NamePage,
  type NamePageQuery,
  type SecretListQuery,
  type SecretPage,
  type SecretRecord,
  type StoreRecord,
  type ValidityWindow,
} from './model.js';
import { checkNamePage, emptyPage } from './name-paging.js';
import { assertSecretName, assertStoreName, assertValueSize, DEFAULT_STORE_NAME } from './names.js';
import { ensureStoreInTx, resolveStore } from './store-service.js';

/** How many versions of a secret are kept; older ones are destroyed with their data keys. */
export const VERSIONS_KEPT = 10;

export interface SecretServiceDeps {
  readonly repository: Repository;
  readonly keyring: Keyring;
  readonly clock: Clock;
  /** Most secrets one tenant may hold across its stores (COFFER_SECRET_QUOTA). */
  readonly secretQuota: number;
  /** Most stores one tenant may hold (COFFER_STORE_LIMIT). */
  readonly storeLimit: number;
  readonly audit: AuditTrail;
}

export interface NewSecretInput {
  readonly name: string;
  readonly description?: string | null;
  readonly scopes?: readonly string[];
  /** Absent: the secret is declared without a value (envs), and has no version yet. */
  readonly value?: string;
}

export interface SecretPatch {
  readonly description?: string | null;
  readonly scopes?: readonly string[];
  /** A new value: a new version, under a fresh data key. */
  readonly value?: string;
}

/**
 * A create-or-update by name (native API `PUT`): absent fields keep their current state;
 * `notBefore`/`expiresOn` null clear a bound, a number sets it (epoch ms).
 */
export interface SecretWrite {
  readonly value?: string;
  readonly description?: string | null;
  readonly scopes?: readonly string[];
  readonly notBefore?: number | null;
  readonly expiresOn?: number | null;
}

/**
 * What the caller believed about the secret (HTTP `If-Match`/`If-None-Match`), checked inside the
 * write's own transaction so that no other write can slip in between the check and the change.
 * `version` 0 means "exists without a value yet".
 */
export type SecretPrecondition =
  | { readonly kind: 'exists' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'version'; readonly version: number };

export interface OpenedValue {
  readonly name: string;
  readonly version: number;
  readonly value: Buffer;
}

/** Rows per range read when a whole store is listed. */
const LIST_ALL_BATCH = 500;

/** Most secrets one batch reveal may open (names asked for, or all of a store). */
export const MAX_REVEAL_BATCH = 1000;

export interface PutValueInput {
  readonly tenantId: string;
  readonly storeName?: string;
  readonly name: string;
  readonly value: string;
  /**
   * The window that comes with the value (Neostore `options`). Absent: none for a caller that may
   * change windows (the contract's "omit both for permanent secrets"); for a value-only caller,
   * the secret's current window is kept (see `windowChangeAllowed`).
   */
  readonly window?: ValidityWindow;
}

const NO_WINDOW: ValidityWindow = { notBefore: null, expiresOn: null };

/** Resources as audit events name them: stores by name or id, secrets by name or id. */
const byName = (storeName: string) => `store:${safeName(storeName)}`;
const byId = (storeId: string) => `store-id:${safeName(storeId)}`;
const secretNamed = (store: string, name: string) => `${store}/secret:${safeName(name)}`;
const secretWithId = (store: string, id: string) => `${store}/secret-id:${safeName(id)}`;

function secretNotFound(): NotFoundError {
  return new NotFoundError('secret_not_found', 'The secret does not exist.');
}

/**
 * Why a secret that has no usable value now is missing: "not valid yet" (with when) to a caller who
 * may know the secret exists (`secrets:read` on the tenant), else `fallback`. The one place this
 * trust rule lives: every facade and the CLI get it from here.
 */
function missingValue(
  actor: Actor,
  tenantId: string,
  window: ValidityWindow | null,
  now: number,
  fallback: () => NotFoundError,
): NotFoundError {
  if (window !== null && window.notBefore !== null && now < window.notBefore) {
    if (holdsPermission(actor, tenantId, 'secrets:read')) return new SecretNotYetValidError(window.notBefore);
  }
  return fallback();
}

function assertPrecondition(secret: SecretRecord | null, precondition: SecretPrecondition | undefined): void {
  if (precondition === undefined) return;
  const holds =
    precondition.kind === 'absent'
      ? secret === null
      : secret !== null &&
        (precondition.kind === 'exists' || (secret.currentVersion ?? 0) === precondition.version);
  if (!holds) {
    throw new ConflictError(
      'precondition_failed',
      precondition.kind === 'absent'
        ? 'The secret already exists.'
        : 'The secret does not exist or its version is not the one expected.',
    );
  }
}

function sameWindow(a: ValidityWindow, b: ValidityWindow): boolean {
  return a.notBefore === b.notBefore && a.expiresOn === b.expiresOn;
}

/**
 * The validity window is metadata: an admin's "not before 2099" or "expired" must hold against a
 * key that may only set values. So changing an existing secret's window needs `secrets:write` on
 * every path, with or without a value (issue 13); restating the window it has is no change.
 */
function requireWindowChangeAllowed(
  actor: Actor,
  tenantId: string,
  current: ValidityWindow,
  next: ValidityWindow,
): void {
  if (!sameWindow(current, next)) requirePermission(actor, tenantId, 'secrets:write');
}

export function assertWindow(window: ValidityWindow): void {
  if (window.notBefore !== null && window.expiresOn !== null && window.notBefore >= window.expiresOn) {
    throw InvalidError.field(
      'invalid_validity_window',
      'options.notBefore',
      'notBefore must be earlier than expiresOn.',
    );
  }
}

/**
 * Secrets and their values. Every facade reads and writes through here, so permission checks and
 * the audit trail are the same whichever wire format the caller speaks: each public method records
 * its events through `AuditTrail` (changes in their own transaction, reads and refusals alone).
 */
export class SecretService {
  readonly #deps: SecretServiceDeps;

  constructor(deps: SecretServiceDeps) {
    this.#deps = deps;
  }

  /** Names of the secrets in a store that hold a value, sorted ordinally. A store not yet created is empty. */
  async listNames(caller: Caller, tenantId: string, storeName = DEFAULT_STORE_NAME): Promise<string[]> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.list', resource: byName(storeName) };
    return this.#deps.audit.read(ctx, entry, async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      const store = await this.#deps.repository.getStoreByName(tenantId, storeName, null);
      return store ? this.#deps.repository.listSecretNamesWithValue(store.id) : [];
    });
  }

  /** The current value, if it exists and `now` is inside its validity window; otherwise NotFound. */
  async reveal(
    caller: Caller,
    tenantId: string,
    name: string,
    storeName = DEFAULT_STORE_NAME,
  ): Promise<Buffer> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.reveal', resource: secretNamed(byName(storeName), name) };
    // An unrecorded read must not return the value: it is wiped if its event cannot be written.
    const wipe = (plaintext: Buffer) => plaintext.fill(0);
    return this.#deps.audit.read(
      ctx,
      entry,
      async () => {
        requirePermission(ctx.actor, tenantId, 'secrets:reveal');
        assertSecretName(name);
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

  /**
   * Creates the secret (and its store) if needed, then seals `value` as a new version that replaces
   * the current one together with the validity window. Creating needs `secrets:write` as well.
   */
  async putValue(caller: Caller, input: PutValueInput): Promise<{ version: number; created: boolean }> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const storeName = input.storeName ?? DEFAULT_STORE_NAME;
    const entry = {
      tenantId: input.tenantId,
      action: 'secret.set-value',
      resource: secretNamed(byName(storeName), input.name),
    };
    const requested = input.window ?? NO_WINDOW;
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(actor, input.tenantId, 'secrets:set-value');
      assertSecretName(input.name);
      assertStoreName(storeName);
      assertValueSize(input.value);
      assertWindow(requested);
    });
    const plaintext = Buffer.from(input.value, 'utf8');
    // Creating the secret is recorded as well as setting its value.
    const entriesOf = (r: { created: boolean }): AuditEntry[] =>
      r.created ? [{ ...entry, action: 'secret.create' }, entry] : [entry];
    try {
      return await this.#deps.audit.change(
        ctx,
        entry,
        async (tx) => {
          const now = this.#deps.clock.now();
          const store = await this.#storeForWrite(actor, tx, input.tenantId, storeName, now);
          let secret = await tx.getSecret(store.id, input.name);
          let created = false;
          if (secret === null) {
            requirePermission(actor, input.tenantId, 'secrets:write');
            await this.#assertQuota(tx, input.tenantId, 1);
            const record = {
              id: newId(),
              storeId: store.id,
              name: input.name,
              description: null,
              scopes: [],
              notBefore: requested.notBefore,
              expiresOn: requested.expiresOn,
              currentVersion: null,
              latestVersion: 0,
              createdAt: now,
              updatedAt: now,
            };
            if (await tx.insertSecret(record)) {
              secret = record;
              created = true;
            } else {
              // A concurrent writer created it first (engines that do not serialise writers).
              secret = await tx.getSecret(store.id, input.name);
              if (secret === null)
                throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
            }
          }
          const current = { notBefore: secret.notBefore, expiresOn: secret.expiresOn };
          // A value-only caller that sends no window keeps the one the secret has.
          const window =
            created || input.window !== undefined || holdsPermission(actor, input.tenantId, 'secrets:write')
              ? requested
              : current;
          if (!created) requireWindowChangeAllowed(actor, input.tenantId, current, window);
          const version = await this.#sealNewVersion(tx, input.tenantId, secret, plaintext, window, now);
          return { version, created };
        },
        entriesOf,
      );
    } finally {
      plaintext.fill(0);
    }
  }

  /** Destroys the secret and all its versions. Idempotent: false when there was nothing to delete. */
  async delete(
    caller: Caller,
    tenantId: string,
    name: string,
    storeName = DEFAULT_STORE_NAME,
  ): Promise<boolean> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.delete', resource: secretNamed(byName(storeName), name) };
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(ctx.actor, tenantId, 'secrets:write');
      assertSecretName(name);
    });
    return this.#deps.audit.change(ctx, entry, async (tx) => {
      const store = await tx.getStoreByName(tenantId, storeName, null);
      if (store === null) return false;
      const secret = await tx.getSecret(store.id, name);
      return secret === null ? false : tx.deleteSecret(store.id, secret.id);
    });
  }

  async #storeForWrite(
    actor: Actor,
    tx: RepositoryTx,
    tenantId: string,
    storeName: string,
    now: number,
  ): Promise<StoreRecord> {
    const existing = await tx.getStoreByName(tenantId, storeName, null);
    if (existing !== null) return existing;
    requirePermission(actor, tenantId, 'secrets:write');
    return (await ensureStoreInTx(tx, tenantId, storeName, null, now, this.#deps.storeLimit)).store;
  }

  async #assertQuota(tx: RepositoryTx, tenantId: string, adding: number): Promise<void> {
    const used = await tx.countSecretsInTenant(tenantId);
    if (used + adding > this.#deps.secretQuota) {
      throw new QuotaExceededError(
        'secret_quota_exceeded',
        `The tenant's secret quota (${this.#deps.secretQuota}) would be exceeded.`,
      );
    }
  }

  /** Seals `value` as the secret's new current version (inside the caller's transaction). */
  async #sealNewVersion(
    tx: RepositoryTx,
    tenantId: string,
    secret: SecretRecord,
    plaintext: Buffer,
    window: ValidityWindow,
    now: number,
  ): Promise<number> {
    const version = await tx.allocateVersion(secret.id);
    const sealed = sealValue(
      this.#deps.keyring,
      { tenantId, storeId: secret.storeId, secretId: secret.id, version },
      plaintext,
    );
    await tx.insertVersion({ secretId: secret.id, version, createdAt: now, ...sealed });
    await tx.setCurrentVersion(secret.id, version, window, now);
    await tx.pruneVersions(secret.id, VERSIONS_KEPT);
    return version;
  }

  // --- Store-addressed operations (Cloudflare, envs, native API) -------------------------------

  /** One page of a store's secrets (metadata only, never values). */
  async listInStore(
    caller: Caller,
    tenantId: string,
    storeId: string,
    query: SecretListQuery,
  ): Promise<SecretPage> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.list', resource: byId(storeId) };
    return this.#deps.audit.read(ctx, entry, async () => {
      requireStorePermission(ctx.actor, tenantId, 'secrets:read');
      const store = await resolveStore(this.#deps.repository, ctx.actor, tenantId, storeId);
      return this.#deps.repository.listSecrets(store.id, query);
    });
  }

  /**
   * One keyset page of a store's secrets by name (metadata only): one audited read and one range
   * read of at most `limit + 1` rows, wherever `after` points.
   */
  async listByName(
    caller: Caller,
    tenantId: string,
    storeId: string,
    query: NamePageQuery,
  ): Promise<NamePage<SecretRecord>> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.list', resource: byId(storeId) };
    return this.#deps.audit.read(ctx, entry, async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      const { empty } = checkNamePage('secret', query);
      const store = await resolveStore(this.#deps.repository, ctx.actor, tenantId, storeId);
      return empty ? emptyPage<SecretRecord>() : this.#deps.repository.listSecretsByName(store.id, query);
    });
  }

  /**
   * Every secret of a store by name (envs lists a whole environment): one audited read, walked in
   * keyset batches so that each batch is one range read however large the store is.
   */
  async listAllByName(caller: Caller, tenantId: string, storeId: string): Promise<SecretRecord[]> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.list', resource: byId(storeId) };
    return this.#deps.audit.read(ctx, entry, async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      const store = await resolveStore(this.#deps.repository, ctx.actor, tenantId, storeId);
      const all: SecretRecord[] = [];
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

  async getById(caller: Caller, tenantId: string, storeId: string, secretId: string): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.get', resource: secretWithId(byId(storeId), secretId) };
    return this.#deps.audit.read(ctx, entry, async () => {
      requireStorePermission(ctx.actor, tenantId, 'secrets:read');
      const store = await resolveStore(this.#deps.repository, ctx.actor, tenantId, storeId);
      const secret = await this.#deps.repository.getSecretById(store.id, secretId);
      if (secret === null) throw secretNotFound();
      return secret;
    });
  }

  async getByName(caller: Caller, tenantId: string, storeId: string, name: string): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.get', resource: secretNamed(byId(storeId), name) };
    return this.#deps.audit.read(ctx, entry, async () => {
      requireStorePermission(ctx.actor, tenantId, 'secrets:read');
      assertSecretName(name, 'name');
      const store = await resolveStore(this.#deps.repository, ctx.actor, tenantId, storeId);
      const secret = await this.#deps.repository.getSecret(store.id, name);
      if (secret === null) throw secretNotFound();
      return secret;
    });
  }

  /**
   * Creates secrets in one transaction: all or none. A name already in the store (or twice in the
   * batch) is a Conflict; going over the tenant's quota is QuotaExceeded.
   */
  async createMany(
    caller: Caller,
    tenantId: string,
    storeId: string,
    inputs: readonly NewSecretInput[],
  ): Promise<SecretRecord[]> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const [only] = inputs;
    const entry = {
      tenantId,
      action: 'secret.create',
      resource: inputs.length === 1 && only ? secretNamed(byId(storeId), only.name) : byId(storeId),
    };
    // One event per secret created (each with its own resource), all in the change's transaction.
    const entriesOf = (created: readonly SecretRecord[]): AuditEntry[] =>
      created.map((c) => ({ ...entry, resource: secretNamed(byId(storeId), c.name) }));
    await this.#deps.audit.check(ctx, entry, () => this.#checkNew(actor, tenantId, inputs));
    return this.#deps.audit.change(
      ctx,
      entry,
      (tx) => this.#createMany(tx, actor, tenantId, storeId, inputs),
      entriesOf,
    );
  }

  #checkNew(actor: Actor, tenantId: string, inputs: readonly NewSecretInput[]): void {
    requireStorePermission(actor, tenantId, 'secrets:write');
    if (inputs.some((i) => i.value !== undefined))
      requireStorePermission(actor, tenantId, 'secrets:set-value');
    const seen = new Set<string>();
    inputs.forEach((input, index) => {
      assertSecretName(input.name, inputs.length > 1 ? `[${index}].name` : 'name');
      if (input.value !== undefined)
        assertValueSize(input.value, inputs.length > 1 ? `[${index}].value` : 'value');
      if (seen.has(input.name)) {
        throw new ConflictError(
          'secret_name_taken',
          `The name '${input.name}' appears twice in the request.`,
        );
      }
      seen.add(input.name);
    });
  }

  async #createMany(
    tx: RepositoryTx,
    actor: Actor,
    tenantId: string,
    storeId: string,
    inputs: readonly NewSecretInput[],
  ): Promise<SecretRecord[]> {
    const store = await resolveStore(tx, actor, tenantId, storeId);
    await this.#assertQuota(tx, tenantId, inputs.length);
    const now = this.#deps.clock.now();
    const created: SecretRecord[] = [];
    for (const input of inputs) {
      const record: SecretRecord = {
        id: newId(),
        storeId: store.id,
        name: input.name,
        description: input.description ?? null,
        scopes: [...(input.scopes ?? [])],
        notBefore: null,
        expiresOn: null,
        currentVersion: null,
        latestVersion: 0,
        createdAt: now,
        updatedAt: now,
      };
      if (!(await tx.insertSecret(record))) {
        throw new ConflictError(
          'secret_name_taken',
          `A secret named '${input.name}' already exists in this store.`,
        );
      }
      if (input.value === undefined) {
        created.push(record);
        continue;
      }
      const plaintext = Buffer.from(input.value, 'utf8');
      try {
        const version = await this.#sealNewVersion(tx, tenantId, record, plaintext, NO_WINDOW, now);
        created.push({ ...record, currentVersion: version, latestVersion: version });
      } finally {
        plaintext.fill(0);
      }
    }
    return created;
  }

  /** Partial update: description and scopes need `secrets:write`, a value `secrets:set-value`. */
  async update(
    caller: Caller,
    tenantId: string,
    storeId: string,
    secretId: string,
    patch: SecretPatch,
  ): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const metadata = patch.description !== undefined || patch.scopes !== undefined;
    const resource = secretWithId(byId(storeId), secretId);
    const entry = { tenantId, action: metadata ? 'secret.update' : 'secret.set-value', resource };
    const entries: AuditEntry[] = [];
    if (metadata) entries.push({ tenantId, action: 'secret.update', resource });
    if (patch.value !== undefined) entries.push({ tenantId, action: 'secret.set-value', resource });
    await this.#deps.audit.check(ctx, entry, () => {
      if (metadata) requireStorePermission(actor, tenantId, 'secrets:write');
      if (patch.value !== undefined) {
        requireStorePermission(actor, tenantId, 'secrets:set-value');
        assertValueSize(patch.value);
      }
      requireStorePermission(actor, tenantId, 'secrets:read');
    });
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const store = await resolveStore(tx, actor, tenantId, storeId);
        const secret = await tx.getSecretById(store.id, secretId);
        if (secret === null) throw secretNotFound();
        return this.#applyPatch(tx, tenantId, secret, patch);
      },
      () => (entries.length > 0 ? entries : [entry]),
    );
  }

  /** Sets the value of the secret named so (envs `PUT …/value`); `secrets:set-value` only. */
  async setValueByName(
    caller: Caller,
    tenantId: string,
    storeId: string,
    name: string,
    value: string,
  ): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'secret.set-value', resource: secretNamed(byId(storeId), name) };
    await this.#deps.audit.check(ctx, entry, () => {
      requireStorePermission(ctx.actor, tenantId, 'secrets:set-value');
      assertSecretName(name, 'name');
      assertValueSize(value);
    });
    return this.#deps.audit.change(ctx, entry, async (tx) => {
      const store = await resolveStore(tx, ctx.actor, tenantId, storeId);
      const secret = await tx.getSecret(store.id, name);
      if (secret === null) throw secretNotFound();
      return this.#applyPatch(tx, tenantId, secret, { value });
    });
  }

  async #applyPatch(
    tx: RepositoryTx,
    tenantId: string,
    secret: SecretRecord,
    patch: SecretPatch,
  ): Promise<SecretRecord> {
    const now = this.#deps.clock.now();
    const description = patch.description === undefined ? secret.description : patch.description;
    const scopes = patch.scopes === undefined ? secret.scopes : [...patch.scopes];
    await tx.updateSecretMetadata(secret.id, { description, scopes, updatedAt: now });
    let { currentVersion, latestVersion } = secret;
    if (patch.value !== undefined) {
      const plaintext = Buffer.from(patch.value, 'utf8');
      try {
        const window = { notBefore: secret.notBefore, expiresOn: secret.expiresOn };
        currentVersion = await this.#sealNewVersion(tx, tenantId, secret, plaintext, window, now);
        latestVersion = currentVersion;
      } finally {
        plaintext.fill(0);
      }
    }
    return { ...secret, description, scopes, currentVersion, latestVersion, updatedAt: now };
  }

  /** Destroys one secret and its versions; NotFound when it does not exist. */
  async deleteById(caller: Caller, tenantId: string, storeId: string, secretId: string): Promise<void> {
    await this.deleteManyById(caller, tenantId, storeId, [secretId]);
  }

  /** Destroys several secrets at once: all exist and go, or NotFound and none goes. */
  async deleteManyById(
    caller: Caller,
    tenantId: string,
    storeId: string,
    ids: readonly string[],
  ): Promise<void> {
    const ctx = callContextOf(caller);
    const unique = [...new Set(ids)];
    const [only] = unique;
    const entry = {
      tenantId,
      action: 'secret.delete',
      resource: unique.length === 1 && only ? secretWithId(byId(storeId), only) : byId(storeId),
    };
    const entries = unique.map((id) => ({ ...entry, resource: secretWithId(byId(storeId), id) }));
    await this.#deps.audit.check(ctx, entry, () =>
      requireStorePermission(ctx.actor, tenantId, 'secrets:write'),
    );
    await this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const store = await resolveStore(tx, ctx.actor, tenantId, storeId);
        for (const id of unique) {
          if (!(await tx.deleteSecret(store.id, id))) {
            throw new NotFoundError(
              'secret_not_found',
              `No secret with id '${id.slice(0, 64)}' in this store.`,
            );
          }
        }
      },
      () => entries,
    );
  }

  /**
   * A copy under a new name with the same value: the value is opened and sealed again under the
   * copy's own fresh data key (never a shared one), inside the core; it never leaves the process.
   */
  async duplicate(
    caller: Caller,
    tenantId: string,
    storeId: string,
    secretId: string,
    input: { name: string; scopes: readonly string[]; description?: string | null },
  ): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const entry = { tenantId, action: 'secret.duplicate', resource: secretWithId(byId(storeId), secretId) };
    const copyEntry = { tenantId, action: 'secret.create', resource: secretNamed(byId(storeId), input.name) };
    await this.#deps.audit.check(ctx, entry, () => {
      requireStorePermission(actor, tenantId, 'secrets:write');
      requireStorePermission(actor, tenantId, 'secrets:set-value');
      assertSecretName(input.name, 'name');
    });
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const store = await resolveStore(tx, actor, tenantId, storeId);
        const source = await tx.getSecretById(store.id, secretId);
        if (source === null) throw secretNotFound();
        await this.#assertQuota(tx, tenantId, 1);
        const now = this.#deps.clock.now();
        const copy: SecretRecord = {
          ...source,
          id: newId(),
          name: input.name,
          description: input.description === undefined ? source.description : input.description,
          scopes: [...input.scopes],
          currentVersion: null,
          latestVersion: 0,
          createdAt: now,
          updatedAt: now,
        };
        if (!(await tx.insertSecret(copy))) {
          throw new ConflictError(
            'secret_name_taken',
            `A secret named '${input.name}' already exists in this store.`,
          );
        }
        if (source.currentVersion === null) return copy;
        const version = await tx.getVersion(source.id, source.currentVersion);
        if (version === null)
          throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
        const plaintext = openValue(
          this.#deps.keyring,
          { tenantId, storeId: store.id, secretId: source.id, version: version.version },
          version,
        );
        try {
          const window = { notBefore: source.notBefore, expiresOn: source.expiresOn };
          const n = await this.#sealNewVersion(tx, tenantId, copy, plaintext, window, now);
          return { ...copy, currentVersion: n, latestVersion: n };
        } finally {
          plaintext.fill(0);
        }
      },
      () => [entry, copyEntry],
    );
  }

  /**
   * Creates or updates the secret named so in a store, under an optional precondition. Answers with
   * the metadata, so `secrets:read` is needed as well as what the change itself needs: `secrets:write`
   * to create or to change description, scopes or the window (with or without a value),
   * `secrets:set-value` for a value.
   */
  async writeByName(
    caller: Caller,
    tenantId: string,
    storeId: string,
    name: string,
    input: SecretWrite,
    precondition?: SecretPrecondition,
  ): Promise<{ secret: SecretRecord; created: boolean }> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const windowGiven = input.notBefore !== undefined || input.expiresOn !== undefined;
    const entry: AuditEntry = {
      tenantId,
      action: input.value === undefined ? 'secret.update' : 'secret.set-value',
      resource: secretNamed(byId(storeId), name),
    };
    await this.#deps.audit.check(ctx, entry, () => {
      requireStorePermission(actor, tenantId, 'secrets:read');
      if (input.value !== undefined) {
        requireStorePermission(actor, tenantId, 'secrets:set-value');
        assertValueSize(input.value);
      }
      if (
        input.description !== undefined ||
        input.scopes !== undefined ||
        (windowGiven && input.value === undefined)
      ) {
        requireStorePermission(actor, tenantId, 'secrets:write');
      }
      assertSecretName(name, 'name');
    });
    // Creating the secret is recorded as well as what was written into it.
    const entriesOf = (r: { created: boolean }): AuditEntry[] =>
      r.created
        ? [{ ...entry, action: 'secret.create' }, ...(input.value === undefined ? [] : [entry])]
        : [entry];
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const store = await resolveStore(tx, actor, tenantId, storeId);
        const existing = await tx.getSecret(store.id, name);
        assertPrecondition(existing, precondition);
        const now = this.#deps.clock.now();
        const window = {
          notBefore: input.notBefore === undefined ? (existing?.notBefore ?? null) : input.notBefore,
          expiresOn: input.expiresOn === undefined ? (existing?.expiresOn ?? null) : input.expiresOn,
        };
        assertWindow(window);
        if (existing === null) {
          requireStorePermission(actor, tenantId, 'secrets:write');
          await this.#assertQuota(tx, tenantId, 1);
          const record: SecretRecord = {
            id: newId(),
            storeId: store.id,
            name,
            description: input.description ?? null,
            scopes: [...(input.scopes ?? [])],
            ...window,
            currentVersion: null,
            latestVersion: 0,
            createdAt: now,
            updatedAt: now,
          };
          if (!(await tx.insertSecret(record)))
            throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
          if (input.value === undefined) return { secret: record, created: true };
          const version = await this.#sealString(tx, tenantId, record, input.value, window, now);
          return { secret: { ...record, currentVersion: version, latestVersion: version }, created: true };
        }
        requireWindowChangeAllowed(actor, tenantId, existing, window);
        if (windowGiven && input.value === undefined && existing.currentVersion === null) {
          throw InvalidError.field(
            'value_required',
            'value',
            'A secret without a value has no validity window to change: send the value with it.',
          );
        }
        if (
          input.description === undefined &&
          input.scopes === undefined &&
          input.value === undefined &&
          !windowGiven
        ) {
          return { secret: existing, created: false };
        }
        const description = input.description === undefined ? existing.description : input.description;
        const scopes = input.scopes === undefined ? existing.scopes : [...input.scopes];
        await tx.updateSecretMetadata(existing.id, { description, scopes, updatedAt: now });
        let { currentVersion, latestVersion } = existing;
        if (input.value !== undefined) {
          currentVersion = await this.#sealString(tx, tenantId, existing, input.value, window, now);
          latestVersion = currentVersion;
        } else if (windowGiven && currentVersion !== null) {
          await tx.setCurrentVersion(existing.id, currentVersion, window, now);
        }
        return {
          secret: {
            ...existing,
            description,
            scopes,
            ...window,
            currentVersion,
            latestVersion,
            updatedAt: now,
          },
          created: false,
        };
      },
      entriesOf,
    );
  }

  async #sealString(
    tx: RepositoryTx,
    tenantId: string,
    secret: SecretRecord,
    value: string,
    window: ValidityWindow,
    now: number,
  ): Promise<number> {
    const plaintext = Buffer.from(value, 'utf8');
    try {
      return await this.#sealNewVersion(tx, tenantId, secret, plaintext, window, now);
    } finally {
      plaintext.fill(0);
    }
  }

  /** Destroys the secret named so, under an optional precondition; NotFound when absent. */
  async deleteByName(
    caller: Caller,
    tenantId: string,
    storeId: string,
    name: string,
    precondition?: SecretPrecondition,
  ): Promise<void> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const entry = { tenantId, action: 'secret.delete', resource: secretNamed(byId(storeId), name) };
    await this.#deps.audit.check(ctx, entry, () => {
      requireStorePermission(actor, tenantId, 'secrets:write');
      assertSecretName(name, 'name');
    });
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      const store = await resolveStore(tx, actor, tenantId, storeId);
      const secret = await tx.getSecret(store.id, name);
      assertPrecondition(secret, precondition);
      if (secret === null) throw secretNotFound();
      await tx.deleteSecret(store.id, secret.id);
    });
  }

  /**
   * The metadata and current value of one secret, the value being exactly the version the metadata
   * names. NotFound when it is missing, has no value, or `now` is outside its window.
   */
  async revealByName(
    caller: Caller,
    tenantId: string,
    storeId: string,
    name: string,
  ): Promise<{ secret: SecretRecord; value: Buffer }> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const entry = { tenantId, action: 'secret.reveal', resource: secretNamed(byId(storeId), name) };
    return this.#deps.audit.read(
      ctx,
      entry,
      async () => {
        requireStorePermission(actor, tenantId, 'secrets:read');
        requireStorePermission(actor, tenantId, 'secrets:reveal');
        assertSecretName(name, 'name');
        const store = await resolveStore(this.#deps.repository, actor, tenantId, storeId);
        const opened = await this.#openCurrent(tenantId, store.id, name);
        if (opened === null) {
          // The failure path only: one more read, to tell a secret not valid yet from one missing.
          const secret = await this.#deps.repository.getSecret(store.id, name);
          const window = secret?.currentVersion === null ? null : (secret ?? null);
          throw missingValue(
            actor,
            tenantId,
            window,
            this.#deps.clock.now(),
            () =>
              new NotFoundError(
                'secret_value_not_found',
                'The secret does not exist or has no usable value.',
              ),
          );
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
    storeId: string,
    names: readonly string[] | null,
  ): Promise<{ secrets: OpenedValue[]; missing: string[] }> {
    const ctx = callContextOf(caller);
    // One event for the batch, naming the store, then one `secret.reveal` per value disclosed, as a
    // single reveal writes: "who read X" finds batch reads too. Names asked but not disclosed are not.
    const entry = { tenantId, action: 'secret.reveal-batch', resource: byId(storeId) };
    return this.#deps.audit.read(
      ctx,
      entry,
      () => this.#revealMany(ctx.actor, tenantId, storeId, names),
      (result) => {
        for (const s of result.secrets) s.value.fill(0);
      },
      (result) => [
        entry,
        ...result.secrets.map((s) => ({
          tenantId,
          action: 'secret.reveal',
          resource: secretNamed(byId(storeId), s.name),
        })),
      ],
    );
  }

  async #revealMany(
    actor: Actor,
    tenantId: string,
    storeId: string,
    names: readonly string[] | null,
  ): Promise<{ secrets: OpenedValue[]; missing: string[] }> {
    requireStorePermission(actor, tenantId, 'secrets:reveal');
    if (names === null) requireStorePermission(actor, tenantId, 'secrets:read');
    else {
      if (names.length > MAX_REVEAL_BATCH) {
        throw InvalidError.field('too_many_names', 'names', `At most ${MAX_REVEAL_BATCH} names per call.`);
      }
      names.forEach((n, i) => assertSecretName(n, `names[${i}]`));
    }
    const store = await resolveStore(this.#deps.repository, actor, tenantId, storeId);
    const wanted =
      names === null ? await this.#deps.repository.listSecretNamesWithValue(store.id) : [...new Set(names)];
    if (wanted.length > MAX_REVEAL_BATCH) {
      throw new InvalidError(
        'too_many_secrets',
        `The store holds more than ${MAX_REVEAL_BATCH} secrets with a value: name the ones wanted.`,
      );
    }
    const secrets: OpenedValue[] = [];
    const missing: string[] = [];
    for (const name of wanted) {
      const opened = await this.#openCurrent(tenantId, store.id, name);
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
