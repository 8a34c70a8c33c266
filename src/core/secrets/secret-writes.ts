import { openValue } from '../../crypto/envelope.js';
import type { Keyring } from '../../crypto/keyring.js';
import type { RepositoryTx } from '../ports/repository.js';
import { type Actor, holdsPermission, requirePermission, requireStorePermission } from '../actor.js';
import type { AuditEntry, AuditTrail } from '../audit-trail.js';
import { type Caller, callContextOf } from '../call-context.js';
import type { Clock } from '../clock.js';
import { ConflictError, InvalidError, NotFoundError, UnavailableError } from '../errors.js';
import type { SecretRecord, ValidityWindow } from '../model.js';
import { assertSecretName, assertStoreName, assertValueSize, DEFAULT_STORE_NAME } from '../names.js';
import {
  assertPrecondition,
  assertQuota,
  assertWindow,
  entryOf,
  NO_WINDOW,
  type NewSecretFields,
  newSecretRecord,
  requireWindowChangeAllowed,
  type SecretLimits,
  type SecretPrecondition,
  secretNotFound,
  secretResource,
  writeSecret,
} from './secret-records.js';
import { type SecretRef, type StoreRef, StoreTarget, storeNotFound } from './store-ref.js';

export interface SecretWritesDeps extends SecretLimits {
  readonly keyring: Keyring;
  readonly clock: Clock;
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

function writeConflict(): UnavailableError {
  return new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
}

function nameTaken(name: string): ConflictError {
  return new ConflictError('secret_name_taken', `A secret named '${name}' already exists in this store.`);
}

function noSecretWithId(id: string): NotFoundError {
  return new NotFoundError('secret_not_found', `No secret with id '${id.slice(0, 64)}' in this store.`);
}

/**
 * Every change to secrets. Each public method is one operation: its permission checks, one
 * transaction that resolves the store (`StoreTarget`), changes the secrets through `writeSecret`
 * (the one record factory and sealing path) and appends the operation's events, last.
 */
export class SecretWrites {
  readonly #deps: SecretWritesDeps;

  constructor(deps: SecretWritesDeps) {
    this.#deps = deps;
  }

  /**
   * A new record (the one factory) inserted into the store, or null when the name is in use: each
   * caller says what that means (a conflict, or a concurrent writer that got there first).
   */
  async #insert(
    tx: RepositoryTx,
    storeId: string,
    name: string,
    fields: NewSecretFields,
    now: number,
  ): Promise<SecretRecord | null> {
    const record = newSecretRecord(storeId, name, fields, now);
    return (await tx.insertSecret(record)) ? record : null;
  }

  /**
   * Creates the secret (and its store) if needed, then seals `value` as a new version that replaces
   * the current one together with the validity window. Creating needs `secrets:write` as well.
   */
  async putValue(caller: Caller, input: PutValueInput): Promise<{ version: number; created: boolean }> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const { tenantId, name } = input;
    const storeName = input.storeName ?? DEFAULT_STORE_NAME;
    const target = new StoreTarget(tenantId, { name: storeName, create: true });
    const entry = entryOf(target, 'secret.set-value', { name });
    const requested = input.window ?? NO_WINDOW;
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(actor, tenantId, 'secrets:set-value');
      assertSecretName(name);
      assertStoreName(storeName);
      assertValueSize(input.value);
      assertWindow(requested);
    });
    const plaintext = Buffer.from(input.value, 'utf8');
    // Creating the secret is recorded as well as setting its value.
    const entriesOf = (r: { created: boolean }): AuditEntry[] => [
      ...target.creationEntries(),
      ...(r.created ? [{ ...entry, action: 'secret.create' }, { ...entry }] : [{ ...entry }]),
    ];
    try {
      return await this.#deps.audit.change(
        ctx,
        entry,
        async (tx) => {
          const now = this.#deps.clock.now();
          const store = await target.forWrite(tx, actor, now, this.#deps.storeLimit);
          if (store === null) throw storeNotFound();
          let secret = await tx.getSecret(store.id, name);
          let created = false;
          if (secret === null) {
            requirePermission(actor, tenantId, 'secrets:write');
            await assertQuota(tx, this.#deps, tenantId, 1);
            secret = await this.#insert(tx, store.id, name, { window: requested }, now);
            created = secret !== null;
            secret ??= await tx.getSecret(store.id, name);
            if (secret === null) throw writeConflict();
          }
          const current = { notBefore: secret.notBefore, expiresOn: secret.expiresOn };
          // A value-only caller that sends no window keeps the one the secret has.
          const window =
            created || input.window !== undefined || holdsPermission(actor, tenantId, 'secrets:write')
              ? requested
              : current;
          if (!created) requireWindowChangeAllowed(actor, tenantId, current, window);
          const written = await writeSecret(
            tx,
            this.#deps.keyring,
            tenantId,
            secret,
            { value: plaintext, window },
            now,
          );
          return { version: written.currentVersion ?? 0, created };
        },
        entriesOf,
      );
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * Creates or updates the secret named so in a store, under an optional precondition. Answers with
   * the metadata, so `secrets:read` is needed as well as what the change itself needs: `secrets:write`
   * to create or to change description, scopes or the window (with or without a value),
   * `secrets:set-value` for a value.
   */
  async write(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    name: string,
    input: SecretWrite,
    precondition?: SecretPrecondition,
  ): Promise<{ secret: SecretRecord; created: boolean }> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    const windowGiven = input.notBefore !== undefined || input.expiresOn !== undefined;
    const entry = entryOf(target, input.value === undefined ? 'secret.update' : 'secret.set-value', { name });
    const checks = () => {
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
    };
    const lookup = () => requireStorePermission(actor, tenantId, 'secrets:read');
    await this.#deps.audit.check(ctx, entry, () => target.checkBefore(lookup, checks));
    // Creating the secret is recorded as well as what was written into it.
    const entriesOf = (r: { created: boolean }): AuditEntry[] =>
      r.created
        ? [{ ...entry, action: 'secret.create' }, ...(input.value === undefined ? [] : [{ ...entry }])]
        : [{ ...entry }];
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const now = this.#deps.clock.now();
        const store = await target.forWrite(tx, actor, now, this.#deps.storeLimit);
        target.checkAfter(checks);
        const existing = store === null ? null : await tx.getSecret(store.id, name);
        assertPrecondition(existing, precondition);
        const window = {
          notBefore: input.notBefore === undefined ? (existing?.notBefore ?? null) : input.notBefore,
          expiresOn: input.expiresOn === undefined ? (existing?.expiresOn ?? null) : input.expiresOn,
        };
        assertWindow(window);
        if (existing === null) {
          requireStorePermission(actor, tenantId, 'secrets:write');
          if (store === null) throw storeNotFound();
          await assertQuota(tx, this.#deps, tenantId, 1);
          const fields = { description: input.description ?? null, scopes: input.scopes ?? [], window };
          const record = await this.#insert(tx, store.id, name, fields, now);
          if (record === null) throw writeConflict();
          const change = input.value === undefined ? {} : { value: input.value, window };
          return {
            secret: await writeSecret(tx, this.#deps.keyring, tenantId, record, change, now),
            created: true,
          };
        }
        requireWindowChangeAllowed(actor, tenantId, existing, window);
        if (windowGiven && input.value === undefined && existing.currentVersion === null) {
          throw InvalidError.field(
            'value_required',
            'value',
            'A secret without a value has no validity window to change: send the value with it.',
          );
        }
        const change = {
          ...(input.description === undefined ? {} : { description: input.description }),
          ...(input.scopes === undefined ? {} : { scopes: input.scopes }),
          ...(input.value === undefined ? {} : { value: input.value }),
          ...(windowGiven || input.value !== undefined ? { window } : {}),
        };
        return {
          secret: await writeSecret(tx, this.#deps.keyring, tenantId, existing, change, now),
          created: false,
        };
      },
      entriesOf,
    );
  }

  /**
   * Partial update of an existing secret: description and scopes need `secrets:write`, a value
   * `secrets:set-value` (the window is kept); answering the metadata needs `secrets:read`.
   */
  async update(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    secretRef: SecretRef,
    patch: SecretPatch,
  ): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    const metadata = patch.description !== undefined || patch.scopes !== undefined;
    const entry = entryOf(target, metadata ? 'secret.update' : 'secret.set-value', secretRef);
    const checks = () => {
      if (metadata) requireStorePermission(actor, tenantId, 'secrets:write');
      if (patch.value !== undefined) {
        requireStorePermission(actor, tenantId, 'secrets:set-value');
        assertValueSize(patch.value);
      }
      requireStorePermission(actor, tenantId, 'secrets:read');
      if ('name' in secretRef) assertSecretName(secretRef.name, 'name');
    };
    const lookup = () => requireStorePermission(actor, tenantId, 'secrets:read');
    await this.#deps.audit.check(ctx, entry, () => target.checkBefore(lookup, checks));
    const entriesOf = (): AuditEntry[] => {
      const entries: AuditEntry[] = [];
      if (metadata) entries.push({ ...entry, action: 'secret.update' });
      if (patch.value !== undefined) entries.push({ ...entry, action: 'secret.set-value' });
      return entries.length > 0 ? entries : [{ ...entry }];
    };
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const secret = await this.#existing(tx, actor, target, secretRef, checks);
        // Every change of this kind touches the metadata, so `updatedAt` moves even for a value alone.
        const change = {
          description: patch.description === undefined ? secret.description : patch.description,
          scopes: patch.scopes ?? secret.scopes,
          ...(patch.value === undefined ? {} : { value: patch.value }),
        };
        return writeSecret(tx, this.#deps.keyring, tenantId, secret, change, this.#deps.clock.now());
      },
      entriesOf,
    );
  }

  /** Sets the value of the secret named so (envs `PUT …/value`); `secrets:set-value` only. */
  async setValue(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    name: string,
    value: string,
  ): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    const entry = entryOf(target, 'secret.set-value', { name });
    const checks = () => {
      requireStorePermission(actor, tenantId, 'secrets:set-value');
      assertSecretName(name, 'name');
      assertValueSize(value);
    };
    const lookup = () => requireStorePermission(actor, tenantId, 'secrets:set-value');
    await this.#deps.audit.check(ctx, entry, () => target.checkBefore(lookup, checks));
    return this.#deps.audit.change(ctx, entry, async (tx) => {
      const secret = await this.#existing(tx, actor, target, { name }, checks);
      const change = { description: secret.description, scopes: secret.scopes, value };
      return writeSecret(tx, this.#deps.keyring, tenantId, secret, change, this.#deps.clock.now());
    });
  }

  /** The secret a change applies to, in its resolved store; NotFound when either is missing. */
  async #existing(
    tx: RepositoryTx,
    actor: Actor,
    target: StoreTarget,
    secretRef: SecretRef,
    checks: () => void,
  ): Promise<SecretRecord> {
    const store = await target.find(tx, actor);
    target.checkAfter(checks);
    if (store === null) throw secretNotFound();
    const secret =
      'id' in secretRef
        ? await tx.getSecretById(store.id, secretRef.id)
        : await tx.getSecret(store.id, secretRef.name);
    if (secret === null) throw secretNotFound();
    return secret;
  }

  /**
   * Creates secrets in one transaction, all or none, with the store when it is a `{name, create}`
   * not created yet (envs' first declare). A name already in the store (or twice in the batch) is
   * a Conflict; going over the tenant's quota is QuotaExceeded.
   */
  async createMany(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    inputs: readonly NewSecretInput[],
  ): Promise<SecretRecord[]> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    const [only] = inputs;
    const entry = entryOf(
      target,
      'secret.create',
      inputs.length === 1 && only ? { name: only.name } : undefined,
    );
    const checks = () => {
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
    };
    const lookup = () => requireStorePermission(actor, tenantId, 'secrets:write');
    await this.#deps.audit.check(ctx, entry, () => target.checkBefore(lookup, checks));
    // One event per secret created (each with its own resource), all in the change's transaction.
    const entriesOf = (created: readonly SecretRecord[]): AuditEntry[] => [
      ...target.creationEntries(),
      ...created.map((c) => ({
        tenantId,
        action: entry.action,
        resource: secretResource(target.resource, { name: c.name }),
      })),
    ];
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const now = this.#deps.clock.now();
        const store = await target.forWrite(tx, actor, now, this.#deps.storeLimit);
        target.checkAfter(checks);
        if (store === null) throw storeNotFound();
        await assertQuota(tx, this.#deps, tenantId, inputs.length);
        const created: SecretRecord[] = [];
        for (const input of inputs) {
          const fields = { description: input.description ?? null, scopes: input.scopes ?? [] };
          const record = await this.#insert(tx, store.id, input.name, fields, now);
          if (record === null) throw nameTaken(input.name);
          const change = input.value === undefined ? {} : { value: input.value, window: NO_WINDOW };
          created.push(await writeSecret(tx, this.#deps.keyring, tenantId, record, change, now));
        }
        return created;
      },
      entriesOf,
    );
  }

  /**
   * A copy under a new name with the same value: the value is opened and sealed again under the
   * copy's own fresh data key (never a shared one), inside the core; it never leaves the process.
   */
  async duplicate(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    secretId: string,
    input: { name: string; scopes: readonly string[]; description?: string | null },
  ): Promise<SecretRecord> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    const entry = entryOf(target, 'secret.duplicate', { id: secretId });
    const copyEntry = entryOf(target, 'secret.create', { name: input.name });
    const checks = () => {
      requireStorePermission(actor, tenantId, 'secrets:write');
      requireStorePermission(actor, tenantId, 'secrets:set-value');
      assertSecretName(input.name, 'name');
    };
    const lookup = () => requireStorePermission(actor, tenantId, 'secrets:write');
    await this.#deps.audit.check(ctx, entry, () => target.checkBefore(lookup, checks));
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const source = await this.#existing(tx, actor, target, { id: secretId }, checks);
        await assertQuota(tx, this.#deps, tenantId, 1);
        const now = this.#deps.clock.now();
        const window = { notBefore: source.notBefore, expiresOn: source.expiresOn };
        const fields = {
          description: input.description === undefined ? source.description : input.description,
          scopes: input.scopes,
          window,
        };
        const copy = await this.#insert(tx, source.storeId, input.name, fields, now);
        if (copy === null) throw nameTaken(input.name);
        if (source.currentVersion === null) return copy;
        const version = await tx.getVersion(source.id, source.currentVersion);
        if (version === null) throw writeConflict();
        const plaintext = openValue(
          this.#deps.keyring,
          { tenantId, storeId: source.storeId, secretId: source.id, version: version.version },
          version,
        );
        try {
          return await writeSecret(tx, this.#deps.keyring, tenantId, copy, { value: plaintext, window }, now);
        } finally {
          plaintext.fill(0);
        }
      },
      () => [{ ...entry }, { ...copyEntry }],
    );
  }

  /**
   * Neostore's delete by name: destroys the secret and all its versions. Idempotent: null when there
   * was nothing to delete, else what was deleted.
   */
  async delete(
    caller: Caller,
    tenantId: string,
    name: string,
    storeName = DEFAULT_STORE_NAME,
  ): Promise<SecretRecord | null> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: storeName });
    const entry = entryOf(target, 'secret.delete', { name });
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(ctx.actor, tenantId, 'secrets:write');
      assertSecretName(name);
    });
    return this.#deps.audit.change(ctx, entry, async (tx) => {
      const store = await target.find(tx, ctx.actor);
      const secret = store === null ? null : await tx.getSecret(store.id, name);
      if (secret === null) return null;
      return (await tx.deleteSecret(secret.storeId, secret.id)) ? secret : null;
    });
  }

  /** Destroys one secret and its versions, under an optional precondition; NotFound when absent. */
  async remove(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    secretRef: SecretRef,
    precondition?: SecretPrecondition,
  ): Promise<SecretRecord> {
    const [deleted] = await this.removeMany(caller, tenantId, storeRef, [secretRef], precondition);
    if (deleted === undefined) throw writeConflict();
    return deleted;
  }

  /**
   * Destroys several secrets at once: all exist and go, or NotFound and none goes. Answers what was
   * deleted, in the order asked (a name or id given twice is deleted once).
   */
  async removeMany(
    caller: Caller,
    tenantId: string,
    storeRef: StoreRef,
    secretRefs: readonly SecretRef[],
    precondition?: SecretPrecondition,
  ): Promise<SecretRecord[]> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, storeRef);
    const keyOf = (r: SecretRef) => ('id' in r ? `id:${r.id}` : `name:${r.name}`);
    const unique = [...new Map(secretRefs.map((r) => [keyOf(r), r])).values()];
    const [only] = unique;
    const entry = entryOf(target, 'secret.delete', unique.length === 1 ? only : undefined);
    const checks = () => {
      requireStorePermission(actor, tenantId, 'secrets:write');
      for (const r of unique) if ('name' in r) assertSecretName(r.name, 'name');
    };
    const lookup = () => requireStorePermission(actor, tenantId, 'secrets:write');
    await this.#deps.audit.check(ctx, entry, () => target.checkBefore(lookup, checks));
    const entriesOf = (): AuditEntry[] =>
      unique.map((r) => ({ tenantId, action: entry.action, resource: secretResource(target.resource, r) }));
    return this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const store = await target.find(tx, actor);
        target.checkAfter(checks);
        const deleted: SecretRecord[] = [];
        for (const r of unique) {
          const secret =
            store === null
              ? null
              : 'id' in r
                ? await tx.getSecretById(store.id, r.id)
                : await tx.getSecret(store.id, r.name);
          assertPrecondition(secret, precondition);
          if (secret === null || !(await tx.deleteSecret(secret.storeId, secret.id))) {
            throw 'id' in r ? noSecretWithId(r.id) : secretNotFound();
          }
          deleted.push(secret);
        }
        return deleted;
      },
      entriesOf,
    );
  }
}
