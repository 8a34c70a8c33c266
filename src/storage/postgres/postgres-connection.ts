import type pg from 'pg';
import type { Row } from '../row-mappers.js';
import { classifyPgError, mapPgError } from './postgres-errors.js';
import { num } from './postgres-rows.js';

/** The channel on which every node hears that a credential changed (payload: the schema). */
export const CREDENTIALS_CHANNEL = 'coffer_credentials';

interface Result {
  readonly rows: Row[];
  readonly rowCount: number;
}

/** Runs one statement; `name` makes it a prepared statement, parsed once per connection. */
interface Executor {
  run(name: string | null, text: string, values?: readonly unknown[]): Promise<Result>;
}

/**
 * PostgreSQL text cannot hold U+0000 (SQLite's can): a lookup, update or delete keyed by a string
 * holding one is refused by the server with an error, where SQLite simply matches nothing. No stored
 * name or id can hold one (the core validates what it writes), so such a statement matches no row:
 * answer that without asking, and both engines agree (a hostile `%00` in a path is a 404, not a 500).
 */
function matchesNothing(text: string, values: readonly unknown[] | undefined): boolean {
  return (
    values !== undefined &&
    !/^\s*INSERT\b/i.test(text) &&
    values.some((v) => typeof v === 'string' && v.includes('\u0000'))
  );
}

function statement(
  name: string | null,
  text: string,
  values: readonly unknown[] | undefined,
): pg.QueryConfig {
  const config: pg.QueryConfig = { text, values: values === undefined ? [] : [...values] };
  if (name !== null) config.name = name;
  return config;
}

/** Reads outside a transaction: any pooled connection, each statement its own snapshot. */
export class PoolExecutor implements Executor {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }
  async run(name: string | null, text: string, values?: readonly unknown[]): Promise<Result> {
    if (matchesNothing(text, values)) return { rows: [], rowCount: 0 };
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.#pool.query<Row>(statement(name, text, values));
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      } catch (error) {
        // A pooled connection the server ended while idle: a read is safe to run again, once.
        if (attempt === 1 && classifyPgError(error) === 'lost') continue;
        throw mapPgError(error);
      }
    }
  }
}

/** One client inside BEGIN … COMMIT; refuses use once its transaction has ended. */
export class ClientExecutor implements Executor {
  readonly #client: pg.PoolClient;
  #open = true;
  constructor(client: pg.PoolClient) {
    this.#client = client;
  }
  end(): void {
    this.#open = false;
  }
  async run(name: string | null, text: string, values?: readonly unknown[]): Promise<Result> {
    if (!this.#open) throw new Error('postgres: a transaction handle was used after its transaction ended');
    if (matchesNothing(text, values)) return { rows: [], rowCount: 0 };
    try {
      const r = await this.#client.query<Row>(statement(name, text, values));
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (error) {
      throw mapPgError(error);
    }
  }
}

/**
 * One executor (the pool, or one client inside BEGIN … COMMIT) and what the statements on it share:
 * running a statement, locking a tenant, announcing a credential change.
 */
export class PostgresConnection {
  readonly executor: Executor;
  readonly inTransaction: boolean;
  readonly #onCredentialsChanged: () => void;
  /** Inside a transaction: a credential changed, so this node's cache must forget on COMMIT. */
  credentialsTouched = false;
  /** Inside a transaction: tenants whose change chains it grows, announced after COMMIT (ADR 0016). */
  readonly changedTenants = new Set<string>();

  constructor(executor: Executor, inTransaction: boolean, onCredentialsChanged: () => void) {
    this.executor = executor;
    this.inTransaction = inTransaction;
    this.#onCredentialsChanged = onCredentialsChanged;
  }

  async one(name: string | null, text: string, values: readonly unknown[]): Promise<Row | null> {
    return (await this.executor.run(name, text, values)).rows[0] ?? null;
  }
  async all(name: string | null, text: string, values: readonly unknown[] = []): Promise<Row[]> {
    return (await this.executor.run(name, text, values)).rows;
  }
  async changes(name: string | null, text: string, values: readonly unknown[]): Promise<number> {
    return (await this.executor.run(name, text, values)).rowCount;
  }
  async count(name: string | null, text: string, values: readonly unknown[]): Promise<number> {
    const row = await this.one(name, text, values);
    return row === null ? 0 : num(row, 'n');
  }
  /**
   * Tells every node's credentials listener that a key or service credential changed. NOTIFY is
   * transactional: it is delivered on COMMIT, never for a rolled-back change. The notification
   * reaches this node's own listener a moment after COMMIT too, so this node does not wait for it:
   * the transaction moves the local epoch once it has committed, before the change is reported
   * done, and a key disabled here is refused here by the very next request.
   */
  async credentialsChanged(): Promise<void> {
    await this.one(
      'coffer_notify_credentials',
      `SELECT pg_notify('${CREDENTIALS_CHANNEL}', current_schema()) AS sent`,
      [],
    );
    if (this.inTransaction) this.credentialsTouched = true;
    else this.#onCredentialsChanged();
  }
  /**
   * Quota checks count then insert. Under READ COMMITTED two nodes could both count below the
   * limit; inside a transaction the count first locks the tenant row (NO KEY UPDATE, which does not
   * block foreign-key checks), so concurrent creators in one tenant take turns and counts are exact.
   */
  async lockTenant(tenantId: string): Promise<void> {
    if (!this.inTransaction) return;
    await this.executor.run('coffer_lock_tenant', 'SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE', [
      tenantId,
    ]);
  }
  async ping(): Promise<void> {
    await this.executor.run(null, 'SELECT 1');
  }
}
