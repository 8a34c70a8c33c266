import type { AuditChainRef, AuditEventRecord, AuditHead, SecretValueRow } from '../../core/model.js';
import { chmodSync, closeSync, existsSync, fstatSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UnavailableError } from '../../core/errors.js';
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
  walFramesMatchFull,
} from './sqlite-connection.js';
import { migrate } from './sqlite-migrations.js';
import { sqliteSecretQueries } from './sqlite-secret-queries.js';
import { sqliteVersionStateQueries } from './sqlite-version-state-queries.js';
import { sqliteStoreQueries } from './sqlite-store-queries.js';
import { sqliteTenantAndMetaQueries } from './sqlite-tenant-and-meta-queries.js';
import { ValueRowCache } from './sqlite-value-row-cache.js';
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

/**
 * Makes everything written so far to the file behind `fd` durable. The default is Node's `fs.fsync`,
 * which runs on the libuv threadpool: the event loop keeps serving while the disk works. Tests
 * inject one that holds the sync, to show that no answer leaves before it completes.
 */
export type FileSync = (fd: number) => Promise<void>;

export const fsyncOnThreadpool: FileSync = (fd) =>
  new Promise<void>((resolve, reject) => {
    fsync(fd, (error) => (error === null ? resolve() : reject(error)));
  });

export interface SqliteRepositoryOptions {
  /** How the WAL is made durable after each COMMIT (default fsyncOnThreadpool). */
  readonly syncWal?: FileSync;
  /**
   * Checkpoint the WAL on a worker thread instead of inside a COMMIT (the server: `coffer serve`).
   * A CLI command leaves it to SQLite: it commits a few times and exits.
   */
  readonly checkpointInWorker?: boolean;
}

/** The WAL size at which the worker is asked for a checkpoint: SQLite's own default, 1,000 pages of 4 KiB. */
const CHECKPOINT_WAL_BYTES = 1000 * 4096;
/**
 * WAL syncs that may run at once. With one, a COMMIT made during a sync waits for that sync to end
 * and then for its own; with two, its own starts at once (on the shared 2-core machine, reads at 50
 * connections +15–30% in interleaved rounds, durable writes no worse: BENCHMARKS.md).
 */
const MAX_SYNCS_IN_FLIGHT = 2;

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** SQLite's default `wal_autocheckpoint`, given back to the writer if the worker fails. */
const AUTOCHECKPOINT_PAGES = 1000;

/** Every transaction fails this way once a WAL sync has failed: nothing after it can be trusted. */
function syncFailed(): UnavailableError {
  return new UnavailableError(
    'database_unavailable',
    'The database could not make a write durable; the server must be restarted.',
  );
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
  readonly concurrentTransactions = false;
  readonly #writer: Db;
  readonly #reader: Db;
  readonly #writerConnection: SqliteConnection;
  readonly #readerConnection: SqliteConnection;
  readonly #write: RepositoryTx;
  readonly #queue: PendingTransaction[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  /**
   * The `-wal` file, which Coffer itself syncs after each COMMIT (the writer runs at
   * `synchronous=NORMAL`); null: SQLite syncs it inside COMMIT (`synchronous=FULL`), as before.
   */
  #walFd: number | null;
  readonly #syncWal: FileSync;
  /** COMMITs that returned: their frames are in the WAL file (not necessarily on disk). */
  #commits = 0;
  /** COMMITs covered by a completed sync: durable. */
  #durableCommits = 0;
  /** Syncs running, the newest COMMIT the last one started covers, and a signal when one ends. */
  #syncsInFlight = 0;
  #syncStartedUpTo = 0;
  #syncEnded = deferred();
  /** Set by the first failed sync, for good: the kernel may have dropped the pages it could not write. */
  #syncError: UnavailableError | null = null;
  readonly #checkpointer: WalCheckpointer | null;
  /** The reader connection's statements (every read not overridden here is forwarded to them). */
  readonly #reads: RepositoryTx;
  /** Sealed current-value rows of recent reads (sqlite-value-row-cache.ts). */
  readonly #valueRows = new ValueRowCache();
  /** The writer connection's `data_version` when the cache was last checked: only other processes move it. */
  #writerDataVersion = -1;
  #valueRowsCheckedAt = Number.NEGATIVE_INFINITY;

  private constructor(
    writer: Db,
    reader: Db,
    walFd: number | null,
    syncWal: FileSync,
    checkpointer: WalCheckpointer | null,
  ) {
    const readerConnection = new SqliteConnection(reader);
    const reads = sqliteStatements(readerConnection);
    super(reads);
    this.#reads = reads;
    this.#writer = writer;
    this.#reader = reader;
    this.#writerConnection = new SqliteConnection(writer);
    this.#readerConnection = readerConnection;
    this.#write = sqliteStatements(this.#writerConnection);
    this.#walFd = walFd;
    this.#syncWal = syncWal;
    this.#checkpointer = checkpointer;
  }

  static open(path: string, options: SqliteRepositoryOptions = {}): SqliteRepository {
    const created = !existsSync(path);
    const walPath = `${path}-wal`;
    const walExisted = existsSync(walPath);
    const writer = openConnection(path);
    if (created) chmodSync(path, 0o600);
    let walFd: number | null = null;
    try {
      migrate(writer);
      // A group commit's savepoint journal (the old image of each page its transactions change, so
      // that a failing one rolls back alone) stays in memory: SQLite spills it to a temporary file
      // past 64 KiB, at a file write per page, which was a third of a durable PUT's CPU
      // (BENCHMARKS.md). A crash never needs it; the WAL is what recovers. Only the writer, and only
      // after migrating: the reader's sorts of large lists, and a migration's VACUUM (a whole copy of
      // the database), may still spill to disk.
      writer.pragma('temp_store = MEMORY');
      walFd = takeOverWalSync(writer, walPath, !walExisted);
      const checkpointer =
        options.checkpointInWorker === true && walFd !== null
          ? WalCheckpointer.forWriter(writer, path)
          : null;
      return new SqliteRepository(
        writer,
        openConnection(path),
        walFd,
        options.syncWal ?? fsyncOnThreadpool,
        checkpointer,
      );
    } catch (error) {
      if (walFd !== null) closeSync(walFd);
      writer.close();
      throw error;
    }
  }

  /**
   * Group commit: transactions that queue up while one batch is being written go into the next one,
   * each inside its own SAVEPOINT (a failing one is rolled back alone), under a single COMMIT and
   * so a single fsync. Every caller is answered only after the COMMIT holding its work is durable
   * (the WAL synced, as `synchronous=FULL` would, but on the threadpool: `#untilDurable`); if that
   * COMMIT or its sync fails, every transaction in it fails.
   */
  /** One transaction of the group commit, like any other: SQLite has no round trips to save. */
  appendToChain(
    chain: AuditChainRef,
    from: AuditHead,
    to: AuditHead,
    events: readonly AuditEventRecord[],
  ): Promise<boolean> {
    return this.transaction((tx) => tx.appendToChain(chain, from, to, events));
  }

  /** Repository.writerBusy: a drain is running (a batch being built, committed or scrubbed). */
  writerBusy(): boolean {
    return this.#draining !== null;
  }

  transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(busy());
    if (this.#syncError !== null) return Promise.reject(this.#syncError);
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
    // Before COMMIT, with nothing awaited in between, so no read sees the new rows before the flush;
    // and whatever the outcome (statements run after SQLite rolled the transaction back on its own
    // would have committed one by one).
    if (this.#writerConnection.valuesTouched) {
      this.#writerConnection.valuesTouched = false;
      this.#valueRows.flush();
    }
    if (!db.inTransaction) return;
    try {
      db.exec('COMMIT');
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      for (const d of done) d.job.reject(isBusy(error) ? busy() : error);
      return;
    }
    const commit = ++this.#commits;
    if (this.#writerConnection.credentialsTouched) {
      this.#writerConnection.credentialsTouched = false;
      this.#recheck = true;
    }
    // Answered only once no file holds the removed bytes any more: "deleted" means gone from disk.
    if (this.#writerConnection.sealedBytesRemoved || this.#scrubOwed) await this.#scrubWal();
    if (this.#walFd === null) {
      for (const d of done) d.job.resolve(d.value);
      return;
    }
    // The next batch is built and committed while this one's sync runs on the threadpool; its
    // callers are answered when a sync that started after this COMMIT has completed.
    this.#untilDurable(commit).then(
      () => {
        for (const d of done) d.job.resolve(d.value);
      },
      (error: unknown) => {
        for (const d of done) d.job.reject(error);
      },
    );
  }

  /**
   * Resolves once COMMIT number `commit` is on disk: after a sync that started once that COMMIT had
   * returned has completed. A sync covers every COMMIT that returned before it started (group commit
   * of the fsync itself). Up to MAX_SYNCS_IN_FLIGHT run at once, so that a COMMIT made while one
   * runs does not wait for the end of a sync that cannot cover it before its own starts; a COMMIT
   * already covered by a running sync starts none.
   */
  async #untilDurable(commit: number): Promise<void> {
    while (this.#durableCommits < commit) {
      if (this.#syncError !== null) throw this.#syncError;
      if (this.#syncStartedUpTo < commit && this.#syncsInFlight < MAX_SYNCS_IN_FLIGHT) this.#startSync();
      await this.#syncEnded.promise;
    }
  }

  /** Never rejects: a failure is kept in #syncError, which fails this and every later transaction. */
  #startSync(): void {
    const covers = this.#commits;
    this.#syncStartedUpTo = covers;
    this.#syncsInFlight += 1;
    this.#syncWal(this.#walFd ?? -1)
      .then(
        () => {
          // fsync makes durable what was written before it was called: every COMMIT up to `covers`,
          // whatever another sync still running covers.
          this.#durableCommits = Math.max(this.#durableCommits, covers);
          if (this.#checkpointer !== null && this.#walFd !== null) {
            if (fstatSync(this.#walFd).size >= CHECKPOINT_WAL_BYTES) this.#checkpointer.request();
          }
        },
        () => {
          // As PostgreSQL does since 2018 ("fsyncgate"), never retry a failed fsync as if the data
          // were still there: Linux may have marked the unwritten pages clean. Fail closed until a
          // restart, whose recovery reads what is really on disk.
          this.#syncError = syncFailed();
        },
      )
      .finally(() => {
        this.#syncsInFlight -= 1;
        const ended = this.#syncEnded;
        this.#syncEnded = deferred();
        ended.resolve();
      });
  }

  /**
   * Repository.syncVisibleCommits: one sync of the WAL, which covers every frame written to it so far,
   * this process's or another's. A failure fails this process closed, as a failed sync after COMMIT does.
   */
  async syncVisibleCommits(): Promise<void> {
    if (this.#syncError !== null) throw this.#syncError;
    // synchronous=FULL (no WAL descriptor here): every writer of the file syncs inside COMMIT.
    if (this.#walFd === null) return;
    try {
      await this.#syncWal(this.#walFd);
    } catch {
      this.#syncError ??= syncFailed();
      throw this.#syncError;
    }
  }

  /** A scrub that gave up (a reader held the WAL too long): retried after the next commit. */
  #scrubOwed = false;

  /**
   * Empties the WAL after a commit that removed versions or replaced wrapped keys. The WAL still
   * holds the frames that once wrote those bytes (and, until a checkpoint, the freed pages that
   * `secure_delete` zeroed are zeroed only in the WAL): a TRUNCATE checkpoint copies the newest
   * page images into the database and cuts the WAL to zero bytes. It cannot finish while a reader
   * still uses the WAL; this process's reader never holds a snapshot between statements, but
   * another process's may, so it may wait up to WAL_SCRUB_WAIT_MS. In the server it runs on the
   * checkpoint worker, which waits in SQLite's busy handler while the event loop goes on serving
   * reads; elsewhere (the CLI, or if the worker failed) on the writer, tried without a busy wait and
   * retried with growing pauses. Either way the drain commits nothing until it ends (it needs the
   * writer lock). Durability is unchanged: the checkpoint syncs the WAL before it copies it (so the
   * COMMIT is on disk either way), syncs the database after, and only then truncates; callers are
   * still answered after the repository's own sync too (#untilDurable).
   */
  async #scrubWal(): Promise<void> {
    const deadline = performance.now() + WAL_SCRUB_WAIT_MS;
    if (this.#checkpointer?.available === true) {
      try {
        // The server: the page copy and its syncs on the worker thread, so that the event loop keeps
        // serving reads and preparing the next batch meanwhile (BENCHMARKS.md, durable PUT). SQLite
        // does not call the busy handler while another connection checkpoints (the CLI's own scrub
        // or autocheckpoint, a backup tool): then the attempt returns at once, and is retried here
        // with the same growing pauses as on the writer, within the same bound.
        for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
          const left = deadline - performance.now();
          if (await this.#checkpointer.truncate(Math.max(0, left))) {
            this.#scrubOwed = false;
            return;
          }
          if (performance.now() >= deadline) {
            this.#scrubOwed = true;
            return;
          }
          await sleep(pause);
        }
      } catch {
        // The worker failed (its failure gave checkpoints back to the writer): scrub here.
      }
    }
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
    if (this.#syncError !== null) throw this.#syncError;
    this.#readerConnection.ping();
  }

  /**
   * The current value's row, from the cache of sealed rows when it holds it. Rows committed by another
   * process (the CLI) flush the cache within EPOCH_RECHECK_MS of the commit, as they end a revoked key's
   * use; this process's commits flush it as they return.
   */
  override readonly getCurrentValue = async (
    tenantId: string,
    storeName: string,
    secretName: string,
  ): Promise<SecretValueRow | null> => {
    const now = performance.now();
    if (now - this.#valueRowsCheckedAt >= EPOCH_RECHECK_MS) {
      this.#valueRowsCheckedAt = now;
      const version = this.#writerConnection.dataVersion();
      if (version !== this.#writerDataVersion) {
        this.#writerDataVersion = version;
        this.#valueRows.flush();
      }
    }
    const cached = this.#valueRows.get(tenantId, storeName, secretName);
    if (cached !== undefined) return cached;
    const generation = this.#valueRows.generation;
    const row = await this.#reads.getCurrentValue(tenantId, storeName, secretName);
    if (row !== null) this.#valueRows.set(generation, tenantId, storeName, secretName, row);
    return row;
  };

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

  /**
   * Idempotent: a second call waits for the first. Closing the WAL descriptor twice could close an
   * unrelated file that reused its number in between.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeOnce();
    return this.#closing;
  }

  async #closeOnce(): Promise<void> {
    this.#closed = true;
    while (this.#draining !== null) await this.#draining;
    // Every committed transaction's caller is answered (or failed) before the files close.
    await this.#untilDurable(this.#commits).catch(() => undefined);
    // A second sync may still run after the one that made the last commit durable: its descriptor
    // must stay open until it ends (closed, the number could even name another file by then).
    while (this.#syncsInFlight > 0) await this.#syncEnded.promise;
    await this.#checkpointer?.close();
    this.#reader.close();
    this.#writer.close();
    const walFd = this.#walFd;
    this.#walFd = null;
    if (walFd !== null) closeSync(walFd);
  }
}

/**
 * Switches the writer to `synchronous=NORMAL` and returns a descriptor of its `-wal` file, which the
 * repository then fsyncs after each COMMIT, before any caller is answered
 * (docs/adr/0012-wal-fsync-off-the-event-loop.md). Null, leaving the writer at `synchronous=FULL`,
 * when this SQLite would write different frames under NORMAL (no powersafe overwrite) or the WAL
 * file cannot be opened. `created`: the WAL file is new, so its directory entry is synced too, as
 * SQLite does on the first sync of a WAL it created.
 *
 * SQLite takes no lock on the `-wal` file (its WAL locks are in `-shm` and the database file), so
 * closing this descriptor cannot drop a POSIX lock of the connection's; and SQLite deletes the file
 * only when the last connection closes, so while this repository is open the file is the WAL.
 */
function takeOverWalSync(writer: Db, walPath: string, created: boolean): number | null {
  if (!walFramesMatchFull(writer)) return null;
  let fd: number;
  try {
    fd = openSync(walPath, 'r+');
  } catch {
    return null;
  }
  try {
    // The migrations ran at FULL: nothing written so far waits for this descriptor.
    if (created) {
      const dir = openSync(dirname(walPath), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    }
    writer.pragma('synchronous = NORMAL');
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * Runs the WAL checkpoints of a server on a worker thread (sqlite-checkpoint-worker.ts), so that
 * the page copy and its two fsyncs leave the event loop; the writer's `wal_autocheckpoint` is 0
 * while it works. Started on the first request, so that start-up does not wait for a thread; if the
 * worker fails, the writer checkpoints by itself again (SQLite's default), so the WAL never grows
 * without bound.
 */
class WalCheckpointer {
  readonly #writer: Db;
  readonly #path: string;
  #worker: Worker | null = null;
  #busy = false;
  #failed = false;
  /** What to do with each reply, in the order the requests were posted (the worker answers in order). */
  readonly #replies: ((reply: CheckpointReply | null) => void)[] = [];

  private constructor(writer: Db, path: string) {
    this.#writer = writer;
    this.#path = path;
  }

  /** Null when the worker's module is not beside this one (the CLI's bundle): SQLite checkpoints. */
  static forWriter(writer: Db, path: string): WalCheckpointer | null {
    if (!existsSync(fileURLToPath(WORKER_URL))) return null;
    writer.pragma('wal_autocheckpoint = 0');
    return new WalCheckpointer(writer, path);
  }

  /** False once the worker failed: the writer checkpoints (and scrubs) by itself again. */
  get available(): boolean {
    return !this.#failed;
  }

  request(): void {
    if (this.#busy || this.#failed) return;
    this.#busy = true;
    try {
      this.#started().postMessage('checkpoint');
    } catch {
      this.#fail();
      return;
    }
    // After posting (a worker that cannot start throws first): a reply is an event, never sooner.
    this.#replies.push(() => {
      this.#busy = false;
    });
  }

  /**
   * A TRUNCATE checkpoint on the worker, which waits up to `waitMs` for other processes' readers:
   * true when the WAL is empty. Rejects if the worker failed (the caller scrubs on the writer).
   * The caller commits nothing until it settles: the checkpoint needs the writer lock.
   */
  truncate(waitMs: number): Promise<boolean> {
    if (this.#failed) return Promise.reject(new Error('checkpoint worker unavailable'));
    return new Promise<boolean>((resolve, reject) => {
      this.#started().postMessage({ kind: 'truncate', waitMs });
      this.#replies.push((reply) => {
        if (reply === null || !reply.ok) reject(new Error('checkpoint worker failed'));
        else resolve(reply.emptied === true);
      });
    });
  }

  #started(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(WORKER_URL, { workerData: { path: this.#path } });
    worker.unref();
    worker.on('message', (reply: CheckpointReply) => {
      this.#replies.shift()?.(reply);
      if (!reply.ok) this.#fail();
    });
    worker.on('error', () => this.#fail());
    worker.on('exit', () => {
      if (this.#worker === worker) this.#fail();
    });
    this.#worker = worker;
    return worker;
  }

  #fail(): void {
    for (const reply of this.#replies.splice(0)) reply(null);
    if (this.#failed) return;
    this.#failed = true;
    this.#busy = false;
    this.#worker = null;
    try {
      this.#writer.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    } catch {
      // Closed already.
    }
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    this.#failed = true;
    for (const reply of this.#replies.splice(0)) reply(null);
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Unreferenced while it works (it must not keep a process alive), referenced while it closes.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }
}

const WORKER_URL = new URL('./sqlite-checkpoint-worker.js', import.meta.url);

interface CheckpointReply {
  readonly ok: boolean;
  /** A TRUNCATE checkpoint's outcome: the WAL is zero bytes. */
  readonly emptied?: boolean;
}
