import type { RepositoryTx } from './ports/repository.js';
import type { AuditEntry } from './audit-trail.js';
import { type ChangeDetail, mayRecordChange, renderDetail, splitResource } from './change-events.js';
import type { SecretRecord, StoreRecord, VersionRecord } from './model.js';

/**
 * What a change's transaction did, exactly, whatever its caller addressed: the stores and secrets it
 * read or wrote (ids and names), the versions it sealed, the stores it created or deleted. The audit
 * trail runs every change's callback on a transaction wrapped by one of these, then appends each
 * allowed change event's `ChangeDetail` to its resource (docs/audit.md, "Resource detail"), so that
 * the change feed can name the store, the secret and the version (ADR 0016) of any facade's write.
 * It observes only: every call goes to the transaction unchanged.
 */
export class ChangeRecorder {
  readonly #stores = new Map<string, StoreRecord>();
  readonly #secrets = new Map<string, SecretRecord>();
  readonly #inserted = new Set<string>();
  readonly #deleted: StoreRecord[] = [];
  readonly #versions = new Map<string, number>();

  #store(record: StoreRecord | null): void {
    if (record !== null) this.#stores.set(record.id, record);
  }

  #secret(record: SecretRecord | null): void {
    if (record !== null) this.#secrets.set(record.id, record);
  }

  /** The transaction to hand to a change's callback: the same calls, observed. */
  wrap(tx: RepositoryTx): RepositoryTx {
    const observe: Partial<Record<keyof RepositoryTx, (args: readonly unknown[], result: unknown) => void>> =
      {
        getStoreById: (_, r) => this.#store(r as StoreRecord | null),
        getStoreByName: (_, r) => this.#store(r as StoreRecord | null),
        insertStore: ([s], ok) => {
          const store = s as StoreRecord;
          if (ok !== true) return;
          this.#store(store);
          this.#inserted.add(store.id);
        },
        deleteStore: ([id], ok) => {
          const store = this.#stores.get(id as string);
          if (ok === true && store !== undefined) this.#deleted.push(store);
        },
        getSecret: (_, r) => this.#secret(r as SecretRecord | null),
        getSecretById: (_, r) => this.#secret(r as SecretRecord | null),
        insertSecret: ([s], ok) => {
          if (ok === true) this.#secret(s as SecretRecord);
        },
        insertVersion: ([v]) => {
          const version = v as VersionRecord;
          this.#versions.set(version.secretId, version.version);
        },
        insertCurrentVersion: ([v]) => {
          const version = v as VersionRecord;
          this.#versions.set(version.secretId, version.version);
        },
      };
    return new Proxy(tx, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const hook = typeof property === 'string' ? observe[property as keyof RepositoryTx] : undefined;
        const method = value as (...args: unknown[]) => unknown;
        if (hook === undefined) return method.bind(target);
        return async (...args: unknown[]) => {
          const result = await method.apply(target, args);
          hook(args, result);
          return result;
        };
      },
    });
  }

  /** The entry with its detail appended, when it is an allowed change the transaction was seen doing. */
  detailed(entry: AuditEntry): AuditEntry {
    if (!mayRecordChange({ action: entry.action, outcome: 'allowed' })) return entry;
    const { addressed } = splitResource(entry.resource);
    if (addressed.startsWith('tenant:')) return entry;
    const detail = this.#detailOf(entry.action, addressed);
    if (detail === null) return entry;
    const rendered = renderDetail(detail);
    return rendered === '' ? entry : { ...entry, resource: `${addressed}${rendered}` };
  }

  #detailOf(action: string, addressed: string): ChangeDetail | null {
    const slash = addressed.lastIndexOf('/');
    const last = slash < 0 ? addressed : addressed.slice(slash + 1);
    if (action === 'store.create' || action === 'store.ensure') {
      const store = last.startsWith('store-id:')
        ? this.#stores.get(last.slice('store-id:'.length))
        : [...this.#stores.values()].find((s) => this.#inserted.has(s.id) && `store:${s.name}` === addressed);
      if (store === undefined) return null;
      return { storeId: store.id, storeName: store.name, created: this.#inserted.has(store.id) };
    }
    if (action === 'store.delete') {
      const store = this.#deleted.find(
        (s) => `store:${s.name}` === addressed || `store-id:${s.id}` === addressed,
      );
      return store === undefined ? null : { storeId: store.id, storeName: store.name };
    }
    if (!action.startsWith('secret.')) return null;
    let secret: SecretRecord | undefined;
    if (last.startsWith('secret-id:')) secret = this.#secrets.get(last.slice('secret-id:'.length));
    else if (last.startsWith('secret:')) {
      const name = last.slice('secret:'.length);
      for (const s of this.#secrets.values()) if (s.name === name) secret = s;
    }
    if (secret === undefined) return null;
    const store = this.#stores.get(secret.storeId);
    const version = action === 'secret.set-value' ? this.#versions.get(secret.id) : undefined;
    return {
      storeId: secret.storeId,
      ...(store === undefined ? {} : { storeName: store.name }),
      secretId: secret.id,
      secretName: secret.name,
      ...(version === undefined ? {} : { version }),
    };
  }
}
