import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CofferApiError } from '../client/coffer-api-error.js';
import { CofferClient } from '../client/coffer-client.js';
import type { RevealResult, Secret } from '../client/native-api-types.js';
import { parseConfig } from '../config.js';
import { OPERATOR } from '../core/actor.js';
import { isCofferError } from '../core/errors.js';
import type { StoreRecord } from '../core/model.js';
import { secretView } from '../http/v1/v1-views.js';
import { DATABASE_FILE, openRuntime, type Runtime } from './runtime.js';

/** Where a secrets command reads and writes: the local data directory or a server's native API. */
export interface SecretSource {
  /** Values of `names`, or of every secret of the store holding one (null), in one batch. */
  reveal(names: readonly string[] | null): Promise<RevealResult>;
  /** Metadata, with the value when `reveal`. */
  get(name: string, reveal: boolean): Promise<Secret & { value?: string }>;
  /** Creates the store if needed, then sets each value (one new version each); returns how many. */
  setValues(entries: ReadonlyArray<readonly [string, string]>): Promise<number>;
  close(): Promise<void>;
}

export interface StoreAddress {
  readonly tenant: string;
  /** The store's id or name. */
  readonly store: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export class SourceError extends Error {}

/** `COFFER_URL` (with `COFFER_TOKEN`) selects the server; otherwise the data directory is used. */
export async function openSecretSource(
  env: Env,
  address: StoreAddress,
  options: { writes: boolean },
): Promise<SecretSource> {
  const url = env.COFFER_URL?.trim();
  if (url !== undefined && url !== '') {
    const token = env.COFFER_TOKEN?.trim();
    if (token === undefined || token === '')
      throw new SourceError('COFFER_URL is set but COFFER_TOKEN is not.');
    return new RemoteSource(new CofferClient({ baseUrl: url, token }), address);
  }
  const config = parseConfig(env);
  // Reading from a directory that holds no Coffer data is a mistake, not a reason to create one.
  if (!options.writes && !existsSync(join(config.dataDir, DATABASE_FILE))) {
    throw new SourceError(
      `no Coffer data in ${config.dataDir}: set COFFER_DATA_DIR, or COFFER_URL and COFFER_TOKEN for a server.`,
    );
  }
  return new LocalSource(await openRuntime(config), address);
}

/** The operator's view: file access to the data directory is the credential. */
class LocalSource implements SecretSource {
  readonly #runtime: Runtime;
  readonly #address: StoreAddress;

  constructor(runtime: Runtime, address: StoreAddress) {
    this.#runtime = runtime;
    this.#address = address;
  }

  #store(): Promise<StoreRecord> {
    return this.#runtime.core.stores.resolveRef(OPERATOR, this.#address.tenant, this.#address.store);
  }

  async reveal(names: readonly string[] | null): Promise<RevealResult> {
    const store = await this.#store();
    const result = await this.#runtime.core.secrets.revealMany(
      OPERATOR,
      this.#address.tenant,
      store.id,
      names,
    );
    return {
      secrets: result.secrets.map((s) => ({
        name: s.name,
        value: s.value.toString('utf8'),
        version: s.version,
      })),
      missing: result.missing,
    };
  }

  async get(name: string, reveal: boolean): Promise<Secret & { value?: string }> {
    const store = await this.#store();
    const secrets = this.#runtime.core.secrets;
    if (!reveal) return secretView(await secrets.getByName(OPERATOR, this.#address.tenant, store.id, name));
    const { secret, value } = await secrets.revealByName(OPERATOR, this.#address.tenant, store.id, name);
    return secretView(secret, value);
  }

  async setValues(entries: ReadonlyArray<readonly [string, string]>): Promise<number> {
    const { tenant } = this.#address;
    let store: StoreRecord;
    try {
      store = await this.#store();
    } catch (error) {
      if (!isCofferError(error) || error.code !== 'store_not_found') throw error;
      store = await this.#runtime.core.stores.ensure(OPERATOR, tenant, this.#address.store);
    }
    let written = 0;
    for (const [name, value] of entries) {
      await this.#runtime.core.secrets.writeByName(OPERATOR, tenant, store.id, name, { value });
      written++;
    }
    return written;
  }

  close(): Promise<void> {
    return this.#runtime.close();
  }
}

/** A server's native API, with the token's permissions. */
class RemoteSource implements SecretSource {
  readonly #client: CofferClient;
  readonly #address: StoreAddress;

  constructor(client: CofferClient, address: StoreAddress) {
    this.#client = client;
    this.#address = address;
  }

  reveal(names: readonly string[] | null): Promise<RevealResult> {
    return this.#client.reveal(this.#address.tenant, this.#address.store, names ?? undefined);
  }

  get(name: string, reveal: boolean): Promise<Secret & { value?: string }> {
    const { tenant, store } = this.#address;
    return reveal
      ? this.#client.getSecret(tenant, store, name, { reveal: true })
      : this.#client.getSecret(tenant, store, name);
  }

  async setValues(entries: ReadonlyArray<readonly [string, string]>): Promise<number> {
    const { tenant, store } = this.#address;
    try {
      await this.#client.getStore(tenant, store);
    } catch (error) {
      if (!(error instanceof CofferApiError) || error.code !== 'store_not_found') throw error;
      await this.#client.createStore(tenant, store);
    }
    let written = 0;
    for (const [name, value] of entries) {
      await this.#client.putSecret(tenant, store, name, { value });
      written++;
    }
    return written;
  }

  async close(): Promise<void> {}
}
