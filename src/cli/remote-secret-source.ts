import { CofferApiError } from '../client/coffer-api-error.js';
import { CofferClient } from '../client/coffer-client.js';
import type { RevealResult, Secret } from '../client/native-api-types.js';
import type { ServerTarget } from './cli-settings.js';
import type { ChangeWatch } from './change-watch.js';
import type { SecretSource, StoreAddress } from './secret-source.js';

export function openRemoteSource(server: ServerTarget, address: StoreAddress): SecretSource {
  return new RemoteSource(new CofferClient({ baseUrl: server.url, token: server.token }), address, server);
}

/** A server's native API, with the token's permissions. */
class RemoteSource implements SecretSource {
  readonly #client: CofferClient;
  readonly #address: StoreAddress;
  readonly #server: ServerTarget;

  constructor(client: CofferClient, address: StoreAddress, server: ServerTarget) {
    this.#client = client;
    this.#address = address;
    this.#server = server;
  }

  async watchChanges(names: readonly string[] | null): Promise<ChangeWatch> {
    const { openRemoteChangeWatch } = await import('./remote-change-watch.js');
    return openRemoteChangeWatch(this.#server, this.#address, names);
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

  async list(): Promise<Secret[]> {
    const all: Secret[] = [];
    for await (const s of this.#client.allSecrets(this.#address.tenant, this.#address.store)) all.push(s);
    return all;
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

  delete(name: string): Promise<void> {
    return this.#client.deleteSecret(this.#address.tenant, this.#address.store, name);
  }

  async close(): Promise<void> {}
}
