import { chmodSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Repository, RepositoryTx } from '../../core/ports/repository.js';
import { RepositoryReadsForwarder } from '../repository-reads-forwarder.js';
import { sqliteApiKeyQueries } from './sqlite-api-key-queries.js';
import { sqliteAuditAnchorQueries } from './sqlite-audit-anchor-queries.js';
import { sqliteAuditQueries } from './sqlite-audit-queries.js';
import { sqliteIssuedTokenQueries } from './sqlite-issued-token-queries.js';
import {
  BUSY_TIMEOUT_MS,
  busy,
  isBusy,
  openConnection,
  SqliteConnection,
  type Db,
} from './sqlite-connection.js';
import { migrate } from './sqlite-migrations.js';
import { sqliteSecretQueries } from './sqlite-secret-queries.js';
import { sqliteVersionStateQueries } from './sqlite-version-state-queries.js';
import { sqliteStoreQueries } from './sqlite-store-queries.js';
import { sqliteTenantAndMetaQueries } from './sqlite-tenant-and-meta-queries.js';
import { sqliteWebhookQueries } from './sqlite-webhook-queries.js';

/** Every statement of the contract on one connection, area by area in the order of the ports. */
function sqliteStatements(conn: SqliteConnection): RepositoryTx {
  return {
    ...sqliteTenantAndMetaQueries(conn),
    ...sqliteApiKeyQueries(conn),
    ...sqliteStoreQueries(conn),
    ...sqliteSecretQueries(conn),
    ...sqliteVersionStateQueries(conn),
    ...sqliteAuditQueries(conn),
    ...sqliteWebhookQueries(conn),
    ...sqliteIssuedTokenQueries(conn),
    ...sqliteAuditAnchorQueries(conn),
  };
}

interface PendingTransaction {
  readonly fn: (tx: RepositoryTx) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Most transactions committed together, under one fsync (group commit). */
const GROUP_COMMIT_MAX = 512;

/**
 * How long a commit that removed sealed bytes waits for other processes' readers to leave the WAL
 * before it is answered anyway (the same bound as `busy_timeout` for the CLI's writes).
 */
const WAL_SCRUB_WAIT_MS = BUSY_TIMEOUT_MS;

/** How stale a look at other processes' credential changes may be (this process's own: never). */
const EPOCH_RECHECK_MS = 1;

/**
 * SQLite engine: one writer connection (transactions serialised by a mutex) and one reader
 * connection, which in WAL mode reads the last committed state without waiting for the writer.
 */
export class SqliteRepository extends RepositoryReadsForwarder implements Repository {
  readonly engine = 'sqlite' as const;
  readonly #writer: Db;
  readonly #reader: Db;
  readonly #writerConnection: SqliteConnection;
  readonly #readerConnection: SqliteConnection;
  readonly #write: RepositoryTx;
  readonly #queue: PendingTransaction[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;

  private constructor(writer: Db, reader: Db) {
    const readerConnection = new SqliteConnection(reader);
    super(sqliteStatements(readerConnection));
    this.#writer = writer;
    this.#reader = reader;
    this.#writerConnection = new SqliteConnection(writer);
    this.#readerConnection = readerConnection;
    this.#write = sqliteStatements(this.#writerConnection);
  }

  static open(path: string): SqliteRepository {
    const created = !existsSync(path);
    const writer = openConnection(path);
    if (created) chmodSync(path, 0o600);
    try {
      migrate(writer);
    } catch (error) {
      writer.close();
      throw error;
    }
    return new SqliteRepository(writer, openConnection(path));
  }

  /**
   * Group commit: transactions that queue up while one batch is being written go into the next one,
   * each inside its own SAVEPOINT (a failing one is rolled back alone), under a single COMMIT and
   * so a single fsync. Every caller is answered only after the COMMIT holding its work is durable
   * (`synchronous=FULL`); if that COMMIT fails, every transaction in it fails.
   */
  transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(busy());
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      this.#draining ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // Let requests that already arrived reach their transaction first, so they join this commit.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await this.#commitBatch(this.#queue.splice(0, GROUP_COMMIT_MAX));
      }
    } finally {
      // Reached with the queue empty and no await since the check: nothing can slip in between.
      this.#draining = null;
    }
  }

  async #commitBatch(batch: readonly PendingTransaction[]): Promise<void> {
    const db = this.#writer;
    this.#writerConnection.sealedBytesRemoved = false;
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      for (const job of batch) job.reject(isBusy(error) ? busy() : error);
      return;
    }
    let done: { job: PendingTransaction; value: unknown }[] = [];
    for (const job of batch) {
      if (!db.inTransaction) {
        // An earlier failure aborted the whole transaction (I/O error, disk full): nothing joins it.
        job.reject(busy());
        continue;
      }
      db.exec('SAVEPOINT coffer_tx');
      try {
        const value = await job.fn(this.#write);
        db.exec('RELEASE coffer_tx');
        done.push({ job, value });
      } catch (error) {
        if (db.inTransaction) {
          db.exec('ROLLBACK TO coffer_tx');
          db.exec('RELEASE coffer_tx');
        } else {
          for (const d of done) d.job.reject(busy());
          done = [];
        }
        job.reject(isBusy(error) ? busy() : error);
      }
    }
    if (!db.inTransaction) return;
    try {
      db.exec('COMMIT');
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      for (const d of done) d.job.reject(isBusy(error) ? busy() : error);
      return;
    }
    if (this.#writerConnection.credentialsTouched) {
      this.#writerConnection.credentialsTouched = false;
      this.#recheck = true;
    }
    // Answered only once no file holds the removed bytes any more: "deleted" means gone from disk.
    if (this.#writerConnection.sealedBytesRemoved || this.#scrubOwed) await this.#scrubWal();
    for (const d of done) d.job.resolve(d.value);
  }

  /** A scrub that gave up (a reader held the WAL too long): retried after the next commit. */
  #scrubOwed = false;

  /**
   * Empties the WAL after a commit that removed versions or replaced wrapped keys. The WAL still
   * holds the frames that once wrote those bytes (and, until a checkpoint, the freed pages that
   * `secure_delete` zeroed are zeroed only in the WAL): a TRUNCATE checkpoint copies the newest
   * page images into the database and cuts the WAL to zero bytes. It cannot finish while a reader
   * still uses the WAL; this process's reader never holds a snapshot between statements, but
   * another process's may, so it is tried without a busy wait (the event loop keeps serving reads)
   * and retried with growing pauses, up to WAL_SCRUB_WAIT_MS. Durability is unchanged: the COMMIT
   * was already durable (synchronous=FULL) and the checkpoint syncs before it truncates.
   */
  async #scrubWal(): Promise<void> {
    const deadline = performance.now() + WAL_SCRUB_WAIT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      let emptied: boolean;
      try {
        emptied = this.#checkpointTruncate();
      } catch {
        // An I/O error: the COMMIT is durable all the same, so its callers are answered; the
        // checkpoint is owed, and the next commit retries it (and meets the error, if it stays).
        this.#scrubOwed = true;
        return;
      }
      if (emptied) {
        this.#scrubOwed = false;
        return;
      }
      if (performance.now() >= deadline) {
        this.#scrubOwed = true;
        return;
      }
      await sleep(pause);
    }
  }

  /** One TRUNCATE checkpoint attempt that never waits on a lock: true when the WAL is now empty. */
  #checkpointTruncate(): boolean {
    const db = this.#writer;
    db.pragma('busy_timeout = 0');
    try {
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy?: number }[];
      return result?.busy === 0;
    } catch (error) {
      if (isBusy(error)) return false;
      throw error;
    } finally {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  async ping(): Promise<void> {
    this.#readerConnection.ping();
  }

  #seenDataVersion = -1;
  #epoch = 0;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #recheck = true;

  /**
   * A number that changes whenever an API key or service credential may have changed, in this
   * process or another one (the CLI). Checking it costs one `PRAGMA data_version` (no disk read);
   * the stored epoch is re-read only after some commit happened.
   */
  credentialsEpoch(): number {
    // Changes committed by this process are seen at once (#commitBatch sets #recheck); changes by
    // another process (the CLI) within a millisecond of the last look. The pragma is cheap, but
    // under load it was the largest single item of the read path (BENCHMARKS.md).
    const now = performance.now();
    if (!this.#recheck && now - this.#checkedAt < EPOCH_RECHECK_MS) return this.#epoch;
    this.#recheck = false;
    this.#checkedAt = now;
    const dataVersion = this.#readerConnection.dataVersion();
    if (dataVersion !== this.#seenDataVersion) {
      this.#seenDataVersion = dataVersion;
      this.#epoch = this.#readerConnection.storedCredentialsEpoch();
    }
    return this.#epoch;
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining !== null) await this.#draining;
    this.#reader.close();
    this.#writer.close();
  }
}
