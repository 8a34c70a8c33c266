import { openValue } from '../../crypto/envelope.js';
import type { Keyring } from '../../crypto/keyring.js';
import type { Repository, RepositoryReads, RepositoryTx } from '../ports/repository.js';
import { requirePermission } from '../actor.js';
import type { AuditEntry, AuditTrail } from '../audit-trail.js';
import { type Caller, callContextOf } from '../call-context.js';
import type { Clock } from '../clock.js';
import { ConflictError, InvalidError, UnavailableError } from '../errors.js';
import type { SecretRecord, SecretSettings, StoreRecord, StoreSettings, VersionState } from '../model.js';
import { assertSecretPath, assertStoreName, assertValueSize, isSecretPath } from '../names.js';
import { isWithinWindow } from '../validity-window.js';
import {
  assertQuota,
  entryOf,
  MAX_VERSIONS_LIMIT,
  missingValue,
  newSecretRecord,
  type SecretLimits,
  secretNotFound,
  writeSecret,
} from './secret-records.js';
import { StoreTarget, storeNotFound } from './store-ref.js';

/** One version as KV metadata shows it. */
export interface KvVersionMeta {
  readonly version: number;
  readonly createdAt: number;
  readonly deletedAt: number | null;
  readonly destroyed: boolean;
}

/** A version read: its data, or null when soft-deleted or destroyed (its metadata says which). */
export interface KvRead {
  readonly data: Record<string, unknown> | null;
  readonly meta: KvVersionMeta;
  readonly customMetadata: Readonly<Record<string, string>>;
}

/** Everything KV metadata holds about a secret. */
export interface KvMetadata {
  readonly secret: SecretRecord;
  readonly settings: SecretSettings;
  /** The versions kept, oldest first. */
  readonly versions: readonly KvVersionMeta[];
}

/** KV `metadata` writes: absent fields keep their state; `customMetadataPatch` merges (null removes). */
export interface KvMetadataChange {
  readonly maxVersions?: number;
  readonly casRequired?: boolean;
  readonly customMetadata?: Readonly<Record<string, string>>;
  readonly customMetadataPatch?: Readonly<Record<string, string | null>>;
}

export interface KvSecretsDeps extends SecretLimits {
  readonly repository: Repository;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly audit: AuditTrail;
}

export const DEFAULT_SECRET_SETTINGS: SecretSettings = Object.freeze({
  maxVersions: 0,
  casRequired: false,
  customMetadata: Object.freeze({}),
});
export const DEFAULT_STORE_SETTINGS: StoreSettings = Object.freeze({ maxVersions: 0, casRequired: false });

/** Vault's limits on `custom_metadata`. */
export const CUSTOM_METADATA_MAX_KEYS = 64;
export const CUSTOM_METADATA_KEY_MAX = 128;
export const CUSTOM_METADATA_VALUE_MAX = 512;

/**
 * A version's text as KV data (docs/adr/0014-vault-facade.md, "One secret, one model"): a JSON
 * object is that object; any other text is `{"value": text}`.
 */
export function kvDataOf(text: string): Record<string, unknown> {
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {
      // Not JSON: plain text.
    }
  }
  return { value: text };
}

/**
 * KV data as a version's text: `{"value": "<text>"}` alone is stored as the bare text (what the
 * other facades then read), unless that text would itself read back as an object; anything else is
 * its JSON. `kvDataOf(kvTextOf(d))` is `d` for every object.
 */
export function kvTextOf(data: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(data);
  const value = data.value;
  if (keys.length === 1 && typeof value === 'string') {
    const back = kvDataOf(value);
    if (Object.keys(back).length === 1 && back.value === value) return value;
  }
  return JSON.stringify(data);
}

/** RFC 7396 JSON merge patch of an object by an object. */
export function mergePatch(
  target: Readonly<Record<string, unknown>>,
  patch: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[key];
    } else if (typeof value === 'object' && !Array.isArray(value)) {
      const current = out[key];
      const base =
        typeof current === 'object' && current !== null && !Array.isArray(current)
          ? (current as Record<string, unknown>)
          : {};
      out[key] = mergePatch(base, value as Record<string, unknown>);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function casMismatch(): ConflictError {
  return new ConflictError(
    'precondition_failed',
    'check-and-set parameter did not match the current version',
  );
}

/** KV's check-and-set: `cas` is the latest version issued (0: none yet), required when the settings say so. */
function checkCas(latest: number, cas: number | undefined, required: boolean): void {
  if (cas === undefined) {
    if (required) {
      throw InvalidError.field(
        'invalid_precondition',
        'options.cas',
        'check-and-set parameter required for this call',
      );
    }
    return;
  }
  if (cas !== latest) throw casMismatch();
}

function assertVersions(versions: readonly number[]): void {
  if (versions.length === 0 || versions.some((v) => !Number.isSafeInteger(v) || v < 1)) {
    throw InvalidError.field('invalid_precondition', 'versions', 'no version number provided');
  }
}

function assertMaxVersions(n: number | undefined, field: string): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0 || n > MAX_VERSIONS_LIMIT)) {
    throw InvalidError.field('invalid_limit', field, `max_versions must be 0-${MAX_VERSIONS_LIMIT}.`);
  }
}

function assertCustomMetadata(map: Readonly<Record<string, string | null>>): void {
  const keys = Object.keys(map);
  const bad =
    keys.length > CUSTOM_METADATA_MAX_KEYS ||
    keys.some(
      (k) =>
        k === '' ||
        Buffer.byteLength(k) > CUSTOM_METADATA_KEY_MAX ||
        Buffer.byteLength(map[k] ?? '') > CUSTOM_METADATA_VALUE_MAX,
    );
  if (bad) {
    throw InvalidError.field(
      'invalid_precondition',
      'custom_metadata',
      `custom_metadata holds at most ${CUSTOM_METADATA_MAX_KEYS} keys of 1-${CUSTOM_METADATA_KEY_MAX} bytes, values of at most ${CUSTOM_METADATA_VALUE_MAX} bytes.`,
    );
  }
}

/** The kept versions of a secret with their states, oldest first. */
async function versionMetas(reads: RepositoryReads, secret: SecretRecord): Promise<KvVersionMeta[]> {
  const rows = await reads.listVersions(secret.id);
  const states = new Map((await reads.listVersionStates(secret.id)).map((s) => [s.version, s]));
  const metas = new Map<number, KvVersionMeta>();
  for (const row of rows) {
    const state = states.get(row.version);
    metas.set(row.version, {
      version: row.version,
      createdAt: row.createdAt,
      deletedAt: state?.deletedAt ?? null,
      destroyed: false,
    });
  }
  for (const state of states.values()) {
    if (state.destroyed && !metas.has(state.version)) metas.set(state.version, { ...state });
  }
  return [...metas.values()].sort((a, b) => a.version - b.version);
}

const isLive = (meta: KvVersionMeta) => meta.deletedAt === null && !meta.destroyed;

/**
 * Versions, soft delete, undelete, destroy, settings and hierarchical listing of secrets: the core of
 * the Vault KV v2 facade (docs/adr/0014-vault-facade.md), over the same secrets every facade sees.
 * A store is named by its name (a KV mount); a secret by its path (`assertSecretPath`). The value of
 * the latest version is the secret's current value while it is live; soft-deleting or destroying it
 * leaves the secret without a current value, for every facade.
 */
export class KvSecrets {
  readonly #deps: KvSecretsDeps;

  constructor(deps: KvSecretsDeps) {
    this.#deps = deps;
  }

  async #find(
    reads: RepositoryReads,
    target: StoreTarget,
    caller: Caller,
    path: string,
  ): Promise<{ store: StoreRecord; secret: SecretRecord } | null> {
    const store = await target.find(reads, callContextOf(caller).actor);
    if (store === null) return null;
    const secret = await reads.getSecret(store.id, path);
    return secret === null ? null : { store, secret };
  }

  /** A version's data (the latest when `version` is absent); needs `secrets:reveal`. */
  async read(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    version?: number,
  ): Promise<KvRead> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: mount });
    const { repository } = this.#deps;
    const wipe = (r: KvRead) => {
      if (r.data !== null) for (const key of Object.keys(r.data)) delete r.data[key];
    };
    return this.#deps.audit.read(
      ctx,
      entryOf(target, 'secret.reveal', { name: path }),
      async () => {
        requirePermission(ctx.actor, tenantId, 'secrets:reveal');
        assertStoreName(mount, 'mount');
        assertSecretPath(path);
        const found = await this.#find(repository, target, ctx, path);
        if (found === null) throw secretNotFound();
        const { secret } = found;
        const n = version === undefined || version === 0 ? secret.latestVersion : version;
        const meta = (await versionMetas(repository, secret)).find((m) => m.version === n);
        if (meta === undefined) throw secretNotFound();
        const settings = (await repository.getSecretSettings(secret.id)) ?? DEFAULT_SECRET_SETTINGS;
        if (!isLive(meta)) return { data: null, meta, customMetadata: settings.customMetadata };
        const now = this.#deps.clock.now();
        if (!isWithinWindow(secret, now))
          throw missingValue(ctx.actor, tenantId, secret, now, secretNotFound);
        const row = await repository.getVersion(secret.id, n);
        if (row === null)
          throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
        const plaintext = openValue(
          this.#deps.keyring,
          { tenantId, storeId: secret.storeId, secretId: secret.id, version: n },
          row,
        );
        try {
          return {
            data: kvDataOf(plaintext.toString('utf8')),
            meta,
            customMetadata: settings.customMetadata,
          };
        } finally {
          plaintext.fill(0);
        }
      },
      wipe,
    );
  }

  /**
   * A new version holding `data` (the secret, and its store, created if needed). `cas`: the latest
   * version the caller saw (0: none); required when the secret's or store's settings say so. Needs
   * `secrets:set-value`, and `secrets:write` to create. The validity window is kept.
   */
  async write(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    data: Readonly<Record<string, unknown>>,
    cas?: number,
  ): Promise<KvVersionMeta> {
    const text = kvTextOf(data);
    return this.#write(caller, tenantId, mount, path, cas, 'secret.set-value', () => {
      assertValueSize(text, 'data');
      return () => text;
    });
  }

  /** JSON merge patch of the latest version's data into a new version; needs `secrets:reveal` too. */
  async patch(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    patch: Readonly<Record<string, unknown>>,
    cas?: number,
  ): Promise<KvVersionMeta> {
    const ctx = callContextOf(caller);
    return this.#write(
      ctx,
      tenantId,
      mount,
      path,
      cas,
      'secret.set-value',
      () => {
        requirePermission(ctx.actor, tenantId, 'secrets:reveal');
        return undefined;
      },
      async (tx, secret) => {
        const now = this.#deps.clock.now();
        if (secret.currentVersion === null || secret.currentVersion !== secret.latestVersion)
          throw secretNotFound();
        if (!isWithinWindow(secret, now))
          throw missingValue(ctx.actor, tenantId, secret, now, secretNotFound);
        const row = await tx.getVersion(secret.id, secret.currentVersion);
        if (row === null) throw secretNotFound();
        const plaintext = openValue(
          this.#deps.keyring,
          { tenantId, storeId: secret.storeId, secretId: secret.id, version: row.version },
          row,
        );
        try {
          const text = kvTextOf(mergePatch(kvDataOf(plaintext.toString('utf8')), patch));
          assertValueSize(text, 'data');
          return text;
        } finally {
          plaintext.fill(0);
        }
      },
    );
  }

  async #write(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    cas: number | undefined,
    action: string,
    precheck: () => (() => string) | undefined,
    fromCurrent?: (tx: RepositoryTx, secret: SecretRecord) => Promise<string>,
  ): Promise<KvVersionMeta> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const patching = fromCurrent !== undefined;
    const target = new StoreTarget(tenantId, { name: mount, create: !patching });
    const entry = entryOf(target, action, { name: path });
    let valueOf: (() => string) | undefined;
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(actor, tenantId, 'secrets:set-value');
      assertStoreName(mount, 'mount');
      assertSecretPath(path);
      if (cas !== undefined && (!Number.isSafeInteger(cas) || cas < 0)) {
        throw InvalidError.field(
          'invalid_precondition',
          'options.cas',
          'cas must be a whole number, 0 or more.',
        );
      }
      valueOf = precheck();
    });
    const entriesOf = (r: { created: boolean }): AuditEntry[] => [
      ...target.creationEntries(),
      ...(r.created ? [{ ...entry, action: 'secret.create' }, { ...entry }] : [{ ...entry }]),
    ];
    const result = await this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const now = this.#deps.clock.now();
        const store = await target.forWrite(tx, actor, now, this.#deps.storeLimit);
        if (store === null) throw patching ? secretNotFound() : storeNotFound();
        let secret = await tx.getSecret(store.id, path);
        if (secret === null && patching) throw secretNotFound();
        // The secret's own settings and its store's defaults, in one read.
        const settings =
          secret === null
            ? { secret: null, store: await tx.getStoreSettings(store.id) }
            : await tx.getVersionSettings(secret.id, store.id);
        const casRequired =
          (settings.secret?.casRequired ?? false) || (settings.store ?? DEFAULT_STORE_SETTINGS).casRequired;
        checkCas(secret?.latestVersion ?? 0, cas, casRequired);
        let created = false;
        if (secret === null) {
          requirePermission(actor, tenantId, 'secrets:write');
          await assertQuota(tx, this.#deps, tenantId, 1);
          const record = newSecretRecord(store.id, path, {}, now);
          if (!(await tx.insertSecret(record))) throw casMismatch();
          secret = record;
          created = true;
        }
        const text = fromCurrent === undefined ? (valueOf?.() ?? '') : await fromCurrent(tx, secret);
        const window = { notBefore: secret.notBefore, expiresOn: secret.expiresOn };
        const written = await writeSecret(
          tx,
          this.#deps.keyring,
          tenantId,
          secret,
          { value: text, window },
          now,
        );
        const meta: KvVersionMeta = {
          version: written.latestVersion,
          createdAt: now,
          deletedAt: null,
          destroyed: false,
        };
        return { meta, created };
      },
      entriesOf,
    );
    return result.meta;
  }

  /**
   * Soft-deletes versions (`'latest'`: the newest issued): no longer readable, restorable with
   * `undelete`. Needs `secrets:write`; versions that are gone or already deleted are skipped.
   */
  async deleteVersions(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    versions: readonly number[] | 'latest',
  ): Promise<void> {
    await this.#versions(
      caller,
      tenantId,
      mount,
      path,
      versions,
      'secret.version.delete',
      async (tx, secret, meta, now) => {
        if (!isLive(meta)) return false;
        await tx.putVersionState(secret.id, { ...meta, deletedAt: now });
        return true;
      },
    );
  }

  /** Restores soft-deleted versions (destroyed ones stay destroyed). Needs `secrets:write`. */
  async undeleteVersions(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    versions: readonly number[],
  ): Promise<void> {
    await this.#versions(
      caller,
      tenantId,
      mount,
      path,
      versions,
      'secret.version.undelete',
      async (tx, secret, meta) => {
        if (meta.deletedAt === null || meta.destroyed) return false;
        await tx.deleteVersionState(secret.id, meta.version);
        return true;
      },
    );
  }

  /** Destroys versions for good: their sealed values and data keys are deleted. Needs `secrets:write`. */
  async destroyVersions(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    versions: readonly number[],
  ): Promise<void> {
    await this.#versions(
      caller,
      tenantId,
      mount,
      path,
      versions,
      'secret.version.destroy',
      async (tx, secret, meta) => {
        if (meta.destroyed) return false;
        await tx.destroyVersionValue(secret.id, meta.version);
        const state: VersionState = { ...meta, destroyed: true };
        await tx.putVersionState(secret.id, state);
        return true;
      },
    );
  }

  async #versions(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    versions: readonly number[] | 'latest',
    action: string,
    apply: (tx: RepositoryTx, secret: SecretRecord, meta: KvVersionMeta, now: number) => Promise<boolean>,
  ): Promise<void> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: mount });
    const entry = entryOf(target, action, { name: path });
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(ctx.actor, tenantId, 'secrets:write');
      assertStoreName(mount, 'mount');
      assertSecretPath(path);
      if (versions !== 'latest') assertVersions(versions);
    });
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      const found = await this.#find(tx, target, ctx, path);
      if (found === null) return;
      const { secret } = found;
      const wanted = new Set(versions === 'latest' ? [secret.latestVersion] : versions);
      const now = this.#deps.clock.now();
      let latestChanged = false;
      for (const meta of await versionMetas(tx, secret)) {
        if (!wanted.has(meta.version)) continue;
        if ((await apply(tx, secret, meta, now)) && meta.version === secret.latestVersion)
          latestChanged = true;
      }
      if (!latestChanged) return;
      // The secret's current value is its latest version while that is live, for every facade.
      const latest = (await versionMetas(tx, secret)).find((m) => m.version === secret.latestVersion);
      const window = { notBefore: secret.notBefore, expiresOn: secret.expiresOn };
      await tx.setCurrentVersion(
        secret.id,
        latest !== undefined && isLive(latest) ? latest.version : null,
        window,
        now,
      );
    });
  }

  /** A secret's KV metadata: settings and kept versions. Needs `secrets:read`. */
  async metadata(caller: Caller, tenantId: string, mount: string, path: string): Promise<KvMetadata> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: mount });
    const { repository } = this.#deps;
    return this.#deps.audit.read(ctx, entryOf(target, 'secret.get', { name: path }), async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      assertStoreName(mount, 'mount');
      assertSecretPath(path);
      const found = await this.#find(repository, target, ctx, path);
      if (found === null) throw secretNotFound();
      const settings = (await repository.getSecretSettings(found.secret.id)) ?? DEFAULT_SECRET_SETTINGS;
      return { secret: found.secret, settings, versions: await versionMetas(repository, found.secret) };
    });
  }

  /**
   * Changes a secret's settings (`patch`: only an existing secret; otherwise the secret is created
   * without a value if needed, as Vault creates a metadata entry). Needs `secrets:write`.
   */
  async writeMetadata(
    caller: Caller,
    tenantId: string,
    mount: string,
    path: string,
    change: KvMetadataChange,
    mode: 'create-or-update' | 'patch',
  ): Promise<void> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, { name: mount, create: mode !== 'patch' });
    const entry = entryOf(target, 'secret.update', { name: path });
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(actor, tenantId, 'secrets:write');
      assertStoreName(mount, 'mount');
      assertSecretPath(path);
      assertMaxVersions(change.maxVersions, 'max_versions');
      if (change.customMetadata !== undefined) assertCustomMetadata(change.customMetadata);
      if (change.customMetadataPatch !== undefined) assertCustomMetadata(change.customMetadataPatch);
    });
    const entriesOf = (created: boolean): AuditEntry[] => [
      ...target.creationEntries(),
      ...(created ? [{ ...entry, action: 'secret.create' }] : []),
      { ...entry },
    ];
    await this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const now = this.#deps.clock.now();
        const store = await target.forWrite(tx, actor, now, this.#deps.storeLimit);
        if (store === null) throw secretNotFound();
        let secret = await tx.getSecret(store.id, path);
        let created = false;
        if (secret === null) {
          if (mode === 'patch') throw secretNotFound();
          await assertQuota(tx, this.#deps, tenantId, 1);
          const record = newSecretRecord(store.id, path, {}, now);
          if (!(await tx.insertSecret(record)))
            throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
          secret = record;
          created = true;
        }
        const current = (await tx.getSecretSettings(secret.id)) ?? DEFAULT_SECRET_SETTINGS;
        let custom: Record<string, string> = { ...(change.customMetadata ?? current.customMetadata) };
        for (const [k, v] of Object.entries(change.customMetadataPatch ?? {})) {
          if (v === null) delete custom[k];
          else custom[k] = v;
        }
        if (Object.keys(custom).length > CUSTOM_METADATA_MAX_KEYS) {
          assertCustomMetadata(custom);
        }
        custom = Object.fromEntries(Object.entries(custom).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
        await tx.putSecretSettings(secret.id, {
          maxVersions: change.maxVersions ?? current.maxVersions,
          casRequired: change.casRequired ?? current.casRequired,
          customMetadata: custom,
        });
        return created;
      },
      entriesOf,
    );
  }

  /** Deletes the secret with every version and its settings (KV `DELETE metadata`). Needs `secrets:write`. */
  async deleteAll(caller: Caller, tenantId: string, mount: string, path: string): Promise<void> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: mount });
    const entry = entryOf(target, 'secret.delete', { name: path });
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(ctx.actor, tenantId, 'secrets:write');
      assertStoreName(mount, 'mount');
      assertSecretPath(path);
    });
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      const found = await this.#find(tx, target, ctx, path);
      if (found !== null) await tx.deleteSecret(found.store.id, found.secret.id);
    });
  }

  /**
   * The keys directly under `prefix` ('' or a path ending in '/'): secret names, and folders with a
   * trailing '/', sorted. Needs `secrets:read`.
   */
  async list(caller: Caller, tenantId: string, mount: string, prefix: string): Promise<string[]> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: mount });
    const { repository } = this.#deps;
    return this.#deps.audit.read(ctx, entryOf(target, 'secret.list'), async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      assertStoreName(mount, 'mount');
      if (prefix !== '' && (!prefix.endsWith('/') || !isSecretPath(prefix.slice(0, -1)))) {
        assertSecretPath(prefix.endsWith('/') ? prefix.slice(0, -1) : '', 'path');
      }
      const store = await target.find(repository, ctx.actor);
      if (store === null) return [];
      const keys = new Set<string>();
      let after: string | null = null;
      for (;;) {
        const page = await repository.listSecretsByName(store.id, { prefix, after, limit: 500 });
        for (const secret of page.items) {
          const rest = secret.name.slice(prefix.length);
          const slash = rest.indexOf('/');
          keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
        }
        const last = page.items.at(-1);
        if (!page.more || last === undefined) break;
        after = last.name;
      }
      return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    });
  }

  /** A store's settings as KV `config` (the defaults while none were set). Needs `secrets:read`. */
  async config(caller: Caller, tenantId: string, mount: string): Promise<StoreSettings> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: mount });
    const { repository } = this.#deps;
    return this.#deps.audit.read(ctx, entryOf(target, 'store.get'), async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      assertStoreName(mount, 'mount');
      const store = await target.find(repository, ctx.actor);
      if (store === null) return DEFAULT_STORE_SETTINGS;
      return (await repository.getStoreSettings(store.id)) ?? DEFAULT_STORE_SETTINGS;
    });
  }

  /** Changes a store's settings (the store is created if needed). Needs `secrets:write`. */
  async writeConfig(
    caller: Caller,
    tenantId: string,
    mount: string,
    change: { readonly maxVersions?: number; readonly casRequired?: boolean },
  ): Promise<void> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = new StoreTarget(tenantId, { name: mount, create: true });
    const entry = entryOf(target, 'store.update');
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(actor, tenantId, 'secrets:write');
      assertStoreName(mount, 'mount');
      assertMaxVersions(change.maxVersions, 'max_versions');
    });
    await this.#deps.audit.change(
      ctx,
      entry,
      async (tx) => {
        const store = await target.forWrite(tx, actor, this.#deps.clock.now(), this.#deps.storeLimit);
        if (store === null) throw storeNotFound();
        const current = (await tx.getStoreSettings(store.id)) ?? DEFAULT_STORE_SETTINGS;
        await tx.putStoreSettings(store.id, {
          maxVersions: change.maxVersions ?? current.maxVersions,
          casRequired: change.casRequired ?? current.casRequired,
        });
      },
      () => [...target.creationEntries(), { ...entry }],
    );
  }

  /**
   * The store a mount names, or null while it does not exist (a first write creates it): what the
   * `vault` CLI's preflight asks. Needs `secrets:read`.
   */
  async mount(caller: Caller, tenantId: string, mount: string): Promise<StoreRecord | null> {
    const ctx = callContextOf(caller);
    const target = new StoreTarget(tenantId, { name: mount });
    return this.#deps.audit.read(ctx, entryOf(target, 'store.get'), async () => {
      requirePermission(ctx.actor, tenantId, 'secrets:read');
      assertStoreName(mount, 'mount');
      return target.find(this.#deps.repository, ctx.actor);
    });
  }
}
