import type { RevealResult, Secret } from '../client/native-api-types.js';
import { parseConfig } from '../config.js';
import { OPERATOR } from '../core/actor.js';
import { isCofferError, NotFoundError } from '../core/errors.js';
import type { StoreRecord } from '../core/model.js';
import type { StoreRef } from '../core/secrets/store-ref.js';
import { secretView } from '../http/v1/v1-views.js';
import { buildExistingRuntime, buildRuntime, type Runtime } from '../composition/runtime.js';
import type { ChangeWatch } from './change-watch.js';
import type { SecretSource, StoreAddress } from './secret-source.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A page size for listing a whole store; the store is read page after page. */
const LIST_PAGE = 500;

/** The data directory: reading from one that holds no Coffer data is a mistake, not a reason to create one. */
export async function openLocalSource(
  env: Env,
  address: StoreAddress,
  options: { writes: boolean },
): Promise<SecretSource> {
  const config = parseConfig(env);
  return new LocalSource(
    options.writes ? await buildRuntime(config) : await buildExistingRuntime(config),
    address,
  );
}

/** The operator's view: file access to the data directory is the credential. Every call goes through the core, audited. */
class LocalSource implements SecretSource {
  readonly #runtime: Runtime;
  readonly #address: StoreAddress;

  constructor(runtime: Runtime, address: StoreAddress) {
    this.#runtime = runtime;
    this.#address = address;
  }

  /**
   * Runs one core operation on the command's store, named as given (`{ref}`: an id or a name); the
   * core resolves it inside the operation. The operator sees every tenant, so a missing store says
   * which of the two is missing.
   */
  async #inStore<T>(run: (tenant: string, store: StoreRef) => Promise<T>): Promise<T> {
    const { tenant, store } = this.#address;
    try {
      return await run(tenant, { ref: store });
    } catch (error) {
      if (
        isCofferError(error) &&
        error.code === 'store_not_found' &&
        (await this.#runtime.repository.getTenant(tenant)) === null
      )
        throw new NotFoundError('tenant_not_found', 'The tenant does not exist.');
      throw error;
    }
  }

  async reveal(names: readonly string[] | null): Promise<RevealResult> {
    const result = await this.#inStore((tenant, store) =>
      this.#runtime.core.secrets.revealMany(OPERATOR, tenant, store, names),
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
    const secrets = this.#runtime.core.secrets;
    if (!reveal) {
      return secretView(
        await this.#inStore((tenant, store) => secrets.get(OPERATOR, tenant, store, { name })),
      );
    }
    const { secret, value } = await this.#inStore((tenant, store) =>
      secrets.revealByName(OPERATOR, tenant, store, name),
    );
    return secretView(secret, value);
  }

  async list(): Promise<Secret[]> {
    const all: Secret[] = [];
    for (let offset = 0; ; offset += LIST_PAGE) {
      const page = await this.#inStore((tenant, store) =>
        this.#runtime.core.secrets.listInStore(OPERATOR, tenant, store, {
          order: 'name',
          direction: 'asc',
          limit: LIST_PAGE,
          offset,
        }),
      );
      all.push(...page.items.map((s) => secretView(s)));
      if (page.items.length < LIST_PAGE) return all;
    }
  }

  async setValues(entries: ReadonlyArray<readonly [string, string]>): Promise<number> {
    const { tenant } = this.#address;
    let store: StoreRecord;
    try {
      store = await this.#runtime.core.stores.resolveRef(OPERATOR, tenant, this.#address.store);
    } catch (error) {
      if (!isCofferError(error) || error.code !== 'store_not_found') throw error;
      store = await this.#runtime.core.stores.ensure(OPERATOR, tenant, this.#address.store);
    }
    let written = 0;
    for (const [name, value] of entries) {
      await this.#runtime.core.secrets.write(OPERATOR, tenant, { id: store.id }, name, { value });
      written++;
    }
    return written;
  }

  async delete(name: string): Promise<void> {
    await this.#inStore((tenant, store) =>
      this.#runtime.core.secrets.remove(OPERATOR, tenant, store, { name }),
    );
  }

  async watchChanges(names: readonly string[] | null): Promise<ChangeWatch> {
    const { openLocalChangeWatch } = await import('./local-change-watch.js');
    return this.#inStore(() => openLocalChangeWatch(this.#runtime, this.#address, names));
  }

  close(): Promise<void> {
    return this.#runtime.close();
  }
}
