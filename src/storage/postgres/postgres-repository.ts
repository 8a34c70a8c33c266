import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { UnavailableError } from '../../core/errors.js';
import type { AuditChainRef, AuditEventRecord, AuditHead } from '../../core/model.js';
import type { Repository, RepositoryTx } from '../../core/ports/repository.js';
import { RepositoryReadsForwarder } from '../repository-reads-forwarder.js';
import { postgresApiKeyQueries } from './postgres-api-key-queries.js';
import { postgresAuditAnchorQueries } from './postgres-audit-anchor-queries.js';
import {
  appendToChainStatement,
  ONE_STATEMENT_EVENTS_MAX,
  postgresAuditQueries,
} from './postgres-audit-queries.js';
import { PostgresChangeAnnouncer } from './postgres-change-announcer.js';
import { postgresIssuedTokenQueries } from './postgres-issued-token-queries.js';
import { ClientExecutor, PoolExecutor, PostgresConnection } from './postgres-connection.js';
import { CredentialsListener } from './postgres-credentials-listener.js';
import { classifyPgError, mapPgError } from './postgres-errors.js';
import { migrate } from './postgres-migrations.js';
import { postgresSecretQueries } from './postgres-secret-queries.js';
import { postgresVersionStateQueries } from './postgres-version-state-queries.js';
import { postgresStoreQueries } from './postgres-store-queries.js';
import { postgresTenantAndMetaQueries } from './postgres-tenant-and-meta-queries.js';
import { postgresWebhookQueries } from './postgres-webhook-queries.js';

/**
 * Every statement of the contract over one connection, area by area in the order of the ports. Built
 * for each transaction, so it is merged with `Object.assign`: an object spread of the 88 methods cost
 * about 140 µs a transaction (measured, 2026-11-30), a fifth of a durable PUT's CPU; this, about 3 µs.
 */
function postgresStatements(conn: PostgresConnection): RepositoryTx {
  const accounts = Object.assign(
    postgresTenantAndMetaQueries(conn),
    postgresApiKeyQueries(conn),
    postgresIssuedTokenQueries(conn),
  );
  const secrets = Object.assign(
    postgresStoreQueries(conn),
    postgresSecretQueries(conn),
    postgresVersionStateQueries(conn),
  );
  const trail = Object.assign(
    postgresAuditQueries(conn),
    postgresWebhookQueries(conn),
    postgresAuditAnchorQueries(conn),
  );
  return Object.assign(accounts, secrets, trail);
}

/** How often a transaction runs again after a serialization failure or deadlock. */
const MAX_ATTEMPTS = 6;

export interface PostgresOptions {
  /** Connections per node (default 10). */
  readonly maxConnections?: number;
  /** How long to wait for a connection, new or from a full pool, before answering Unavailable (default 5000). */
  readonly connectionTimeoutMillis?: number;
}

/**
 * PostgreSQL engine, for several stateless Coffer nodes over one database. Transactions run at
 * READ COMMITTED on one pooled client; see docs/adr/0002-postgres-engine.md for the reasoning.
 */
export class PostgresRepository extends RepositoryReadsForwarder implements Repository {
  readonly engine = 'postgres' as const;
  readonly concurrentTransactions = true;
  readonly #pool: pg.Pool;
  readonly #announcer: PostgresChangeAnnouncer;
  readonly #readerConnection: PostgresConnection;
  readonly #listener: CredentialsListener;
  #closed: Promise<void> | null = null;

  private constructor(pool: pg.Pool, url: string) {
    const listener = new CredentialsListener(url);
    const readerConnection = new PostgresConnection(new PoolExecutor(pool), false, () =>
      listener.changedHere(),
    );
    super(postgresStatements(readerConnection));
    this.#pool = pool;
    this.#announcer = new PostgresChangeAnnouncer(pool);
    this.#listener = listener;
    this.#readerConnection = readerConnection;
  }

  /** Opens a pool on `url` (postgres://…) and brings the schema up to date before returning. */
  static async connect(url: string, options: PostgresOptions = {}): Promise<PostgresRepository> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'coffer',
    });
    // An idle connection the server closed: the pool has already dropped it, and the next query
    // opens a fresh one. Without a listener the event would crash the process.
    pool.on('error', () => undefined);
    const repository = new PostgresRepository(pool, url);
    try {
      await migrate(pool);
    } catch (error) {
      await repository.close();
      throw error;
    }
    await repository.#listener.start();
    return repository;
  }

  /** Transactions of this node begun and not yet answered. */
  #transactionsInFlight = 0;

  /**
   * Repository.writerBusy: a transaction of this node is in flight. PostgreSQL's writers are its own
   * backends, but each write is statements and results this node's event loop handles: under a stream
   * of writes, the webhook worker yields to them (src/webhooks/webhook-dispatcher.ts, PRESSURE_PASS_MS).
   */
  writerBusy(): boolean {
    return this.#transactionsInFlight > 0;
  }

  async transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    this.#transactionsInFlight += 1;
    try {
      return await this.#transaction(fn);
    } finally {
      this.#transactionsInFlight -= 1;
    }
  }

  async #transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    let lostRetried = false;
    let backoffMs = 0;
    for (let attempt = 1; ; attempt++) {
      // Waits with no client checked out, so a backing-off transaction holds no pool slot.
      if (backoffMs > 0) await sleep(backoffMs);
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (error) {
        throw mapPgError(error);
      }
      // A checked-out client's socket may die while the callback awaits something else; pg then
      // emits 'error' on the client, which must not go unheard.
      let broken = false;
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      const executor = new ClientExecutor(client);
      let committing = false;
      const connection = new PostgresConnection(executor, true, () => undefined);
      try {
        await executor.run(null, 'BEGIN');
        const result = await fn(postgresStatements(connection));
        committing = true;
        await executor.run(null, 'COMMIT');
        if (connection.credentialsTouched) this.#listener.changedHere();
        if (connection.changedTenants.size > 0) this.#announcer.announce(connection.changedTenants);
        return result;
      } catch (error) {
        // A COMMIT whose outcome is unknown may have changed a credential: forget, to be safe.
        if (committing && connection.credentialsTouched) this.#listener.changedHere();
        const failure = classifyPgError(error);
        if (failure === 'lost' || failure === 'unreachable') broken = true;
        if (!broken && !committing) {
          try {
            await executor.run(null, 'ROLLBACK');
          } catch {
            broken = true;
          }
        }
        if (failure === 'conflict' && attempt < MAX_ATTEMPTS) {
          backoffMs = Math.random() * 5 * 2 ** attempt;
          continue;
        }
        // Lost before COMMIT was sent: nothing was committed, so running it again is safe. Lost
        // during COMMIT: the outcome is unknown, and the caller must hear so.
        if (failure === 'lost' && !committing && !lostRetried) {
          lostRetried = true;
          backoffMs = 0;
          continue;
        }
        if (failure === 'conflict') {
          throw new UnavailableError('write_conflict', 'Concurrent writes kept colliding; retry.');
        }
        throw mapPgError(error);
      } finally {
        executor.end();
        client.off('error', onError);
        client.release(broken);
      }
    }
  }

  appendToChain(
    chain: AuditChainRef,
    from: AuditHead,
    to: AuditHead,
    events: readonly AuditEventRecord[],
  ): Promise<boolean> {
    // One statement takes so many events (the audit trail's batches never hold more): more need a transaction.
    if (events.length > ONE_STATEMENT_EVENTS_MAX) {
      return this.transaction((tx) => tx.appendToChain(chain, from, to, events));
    }
    return appendToChainStatement(this.#readerConnection, chain, from, to, events);
  }

  async ping(): Promise<void> {
    await this.#readerConnection.ping();
  }

  /** Moves whenever any node changes a credential, or this node may have missed such a change. */
  credentialsEpoch(): number {
    return this.#listener.epoch;
  }

  close(): Promise<void> {
    this.#closed ??= this.#listener
      .close()
      .then(() => this.#announcer.idle())
      .then(() => this.#pool.end());
    return this.#closed;
  }
}
