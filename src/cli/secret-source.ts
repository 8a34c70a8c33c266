import type { RevealResult, Secret } from '../client/native-api-types.js';
import type { ServerTarget } from './cli-settings.js';
import type { ChangeWatch } from './change-watch.js';

/** Where a secrets command reads and writes: the local data directory or a server's native API. */
export interface SecretSource {
  /** Values of `names`, or of every secret of the store holding one (null), in one batch. */
  reveal(names: readonly string[] | null): Promise<RevealResult>;
  /** Metadata, with the value when `reveal`. */
  get(name: string, reveal: boolean): Promise<Secret & { value?: string }>;
  /** Every secret of the store, by name: metadata only. */
  list(): Promise<Secret[]>;
  /** Creates the store if needed, then sets each value (one new version each); returns how many. */
  setValues(entries: ReadonlyArray<readonly [string, string]>): Promise<number>;
  /** Destroys the secret with all its versions. */
  delete(name: string): Promise<void>;
  /** Starts watching the store's changes that concern `names` (every secret when null), from now. */
  watchChanges(names: readonly string[] | null): Promise<ChangeWatch>;
  close(): Promise<void>;
}

export interface StoreAddress {
  readonly tenant: string;
  /** The store's id or name. */
  readonly store: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A failure the person can act on: one line on stderr, exit 1. */
export class SourceError extends Error {}

/**
 * Opens the source: the server when one was resolved (docs/adr/0009-cli-configuration.md), else the
 * data directory. Each is loaded only when used, so a remote command never loads SQLite or the core.
 * Errors naming a missing store or tenant are rewritten to say which, and how to create it.
 */
export async function openSecretSource(
  env: Env,
  server: ServerTarget | null,
  address: StoreAddress,
  options: { writes: boolean },
): Promise<SecretSource> {
  const source =
    server === null
      ? await (await import('./local-secret-source.js')).openLocalSource(env, address, options)
      : await (await import('./remote-secret-source.js')).openRemoteSource(server, address);
  return new ExplainingSource(source, address);
}

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/** How to create what is missing, for the person at the terminal. */
export function explainMissing(error: unknown, address: StoreAddress, secret?: string): unknown {
  const { tenant, store } = address;
  const flags = `--tenant ${shellWord(tenant)} --store ${shellWord(store)}`;
  switch (codeOf(error)) {
    case 'store_not_found':
      return new SourceError(
        `store '${store}' of tenant '${tenant}' does not exist${store === 'default' ? ' yet (the first secret written to it creates it)' : ''}: create it by setting a secret, \`coffer secrets set NAME ${flags} -\` (value on stdin), or \`coffer import ${flags} FILE\`.`,
      );
    case 'tenant_not_found':
      return new SourceError(
        `tenant '${tenant}' does not exist (or this token cannot see it): an operator creates it with \`coffer keys create --tenant ${shellWord(tenant)} --name NAME --permission PERMISSION\` or \`coffer secrets set NAME ${flags} -\` on the server's data directory.`,
      );
    case 'secret_not_found':
    case 'secret_value_not_found':
      // The server's words are kept (they may say why: expired, not valid yet); the CLI adds where.
      return secret === undefined
        ? error
        : new SourceError(
            `${(error as Error).message.replace(/\.$/, '')}: secret '${secret}' in store '${store}' of tenant '${tenant}' (\`coffer secrets list ${flags}\` lists the store's secrets).`,
          );
    default:
      return error;
  }
}

/** A word as a POSIX shell reads it back: bare when safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

class ExplainingSource implements SecretSource {
  readonly #inner: SecretSource;
  readonly #address: StoreAddress;

  constructor(inner: SecretSource, address: StoreAddress) {
    this.#inner = inner;
    this.#address = address;
  }

  async #explain<T>(call: Promise<T>, secret?: string): Promise<T> {
    try {
      return await call;
    } catch (error) {
      throw explainMissing(error, this.#address, secret);
    }
  }

  reveal(names: readonly string[] | null): Promise<RevealResult> {
    return this.#explain(this.#inner.reveal(names));
  }
  get(name: string, reveal: boolean): Promise<Secret & { value?: string }> {
    return this.#explain(this.#inner.get(name, reveal), name);
  }
  list(): Promise<Secret[]> {
    return this.#explain(this.#inner.list());
  }
  setValues(entries: ReadonlyArray<readonly [string, string]>): Promise<number> {
    return this.#explain(this.#inner.setValues(entries));
  }
  delete(name: string): Promise<void> {
    return this.#explain(this.#inner.delete(name), name);
  }
  watchChanges(names: readonly string[] | null): Promise<ChangeWatch> {
    return this.#explain(this.#inner.watchChanges(names));
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}
