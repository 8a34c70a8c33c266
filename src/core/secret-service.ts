import { openValue, sealValue } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import { newId } from '../crypto/tokens.js';
import type { Repository, RepositoryTx } from '../storage/repository.js';
import { type Actor, requirePermission } from './actor.js';
import type { Clock } from './clock.js';
import { InvalidError, NotFoundError, UnavailableError } from './errors.js';
import { isWithinWindow, type StoreRecord, type ValidityWindow } from './model.js';
import { assertSecretName, assertStoreName, assertValueSize, DEFAULT_STORE_NAME } from './names.js';

/** How many versions of a secret are kept; older ones are destroyed with their data keys. */
export const VERSIONS_KEPT = 10;

export interface SecretServiceDeps {
  readonly repository: Repository;
  readonly keyring: Keyring;
  readonly clock: Clock;
}

export interface PutValueInput {
  readonly tenantId: string;
  readonly storeName?: string;
  readonly name: string;
  readonly value: string;
  readonly window?: ValidityWindow;
}

const NO_WINDOW: ValidityWindow = { notBefore: null, expiresOn: null };

function secretNotFound(): NotFoundError {
  return new NotFoundError('secret_not_found', 'The secret does not exist.');
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
 * Secrets and their values. Every facade reads and writes through here, so permission checks
 * (and, later, the audit trail) are the same whichever wire format the caller speaks.
 */
export class SecretService {
  readonly #deps: SecretServiceDeps;

  constructor(deps: SecretServiceDeps) {
    this.#deps = deps;
  }

  /** Names of the secrets in a store that hold a value, sorted ordinally. A store not yet created is empty. */
  async listNames(actor: Actor, tenantId: string, storeName = DEFAULT_STORE_NAME): Promise<string[]> {
    requirePermission(actor, tenantId, 'secrets:read');
    const store = await this.#deps.repository.getStoreByName(tenantId, storeName, null);
    return store ? this.#deps.repository.listSecretNamesWithValue(store.id) : [];
  }

  /** The current value, if it exists and `now` is inside its validity window; otherwise NotFound. */
  async reveal(
    actor: Actor,
    tenantId: string,
    name: string,
    storeName = DEFAULT_STORE_NAME,
  ): Promise<Buffer> {
    requirePermission(actor, tenantId, 'secrets:reveal');
    assertSecretName(name);
    const row = await this.#deps.repository.getCurrentValue(tenantId, storeName, name);
    if (row === null || !isWithinWindow(row, this.#deps.clock.now())) throw secretNotFound();
    return openValue(
      this.#deps.keyring,
      { tenantId, storeId: row.storeId, secretId: row.secretId, version: row.version },
      row.sealed,
    );
  }

  /**
   * Creates the secret (and its store) if needed, then seals `value` as a new version that replaces
   * the current one together with the validity window. Creating needs `secrets:write` as well.
   */
  async putValue(actor: Actor, input: PutValueInput): Promise<{ version: number; created: boolean }> {
    const storeName = input.storeName ?? DEFAULT_STORE_NAME;
    requirePermission(actor, input.tenantId, 'secrets:set-value');
    assertSecretName(input.name);
    assertStoreName(storeName);
    assertValueSize(input.value);
    const window = input.window ?? NO_WINDOW;
    assertWindow(window);
    const plaintext = Buffer.from(input.value, 'utf8');
    try {
      return await this.#deps.repository.transaction(async (tx) => {
        const now = this.#deps.clock.now();
        const store = await this.#storeForWrite(actor, tx, input.tenantId, storeName, now);
        let secret = await tx.getSecret(store.id, input.name);
        let created = false;
        if (secret === null) {
          requirePermission(actor, input.tenantId, 'secrets:write');
          const record = {
            id: newId(),
            storeId: store.id,
            name: input.name,
            description: null,
            scopes: [],
            notBefore: window.notBefore,
            expiresOn: window.expiresOn,
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
        const version = await tx.allocateVersion(secret.id);
        const sealed = sealValue(
          this.#deps.keyring,
          { tenantId: input.tenantId, storeId: store.id, secretId: secret.id, version },
          plaintext,
        );
        await tx.insertVersion({ secretId: secret.id, version, createdAt: now, ...sealed });
        await tx.setCurrentVersion(secret.id, version, window, now);
        await tx.pruneVersions(secret.id, VERSIONS_KEPT);
        return { version, created };
      });
    } finally {
      plaintext.fill(0);
    }
  }

  /** Destroys the secret and all its versions. Idempotent: false when there was nothing to delete. */
  async delete(
    actor: Actor,
    tenantId: string,
    name: string,
    storeName = DEFAULT_STORE_NAME,
  ): Promise<boolean> {
    requirePermission(actor, tenantId, 'secrets:write');
    assertSecretName(name);
    return this.#deps.repository.transaction(async (tx) => {
      const store = await tx.getStoreByName(tenantId, storeName, null);
      if (store === null) return false;
      const secret = await tx.getSecret(store.id, name);
      return secret === null ? false : tx.deleteSecret(secret.id);
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
    await tx.ensureTenant({ id: tenantId, createdAt: now });
    const store: StoreRecord = {
      id: newId(),
      tenantId,
      name: storeName,
      managedBy: null,
      createdAt: now,
      updatedAt: now,
    };
    if (await tx.insertStore(store)) return store;
    const raced = await tx.getStoreByName(tenantId, storeName, null);
    if (raced === null) throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
    return raced;
  }
}
