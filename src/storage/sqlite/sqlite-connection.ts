import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { UnavailableError } from '../../core/errors.js';
import { touchesValueRows } from './sqlite-value-row-cache.js';

export type Db = Database.Database;

/**
 * The compiled addon, named so that better-sqlite3 skips the `bindings` package's search of a dozen
 * candidate paths (every CLI command that opens the database would pay for it at start-up): where
 * `npm install` builds it, else (a Debug build) wherever that same search, made from better-sqlite3's
 * own directory, finds it. Looked for once, on the first open; undefined leaves the search to
 * better-sqlite3.
 */
let nativeBinding: { readonly path: string | undefined } | null = null;

function nativeBindingPath(): string | undefined {
  nativeBinding ??= { path: findNativeBinding() };
  return nativeBinding.path;
}

function findNativeBinding(): string | undefined {
  try {
    const packageJson = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
    const root = dirname(packageJson);
    const file = join(root, 'build', 'Release', 'better_sqlite3.node');
    if (existsSync(file)) return file;
    // The CLI's bundle (rolldown.config.js) holds better-sqlite3's JavaScript, so `bindings` would
    // search from the bundle's directory: search from better-sqlite3's instead, as it would itself.
    const search: (options: { bindings: string; module_root: string; path: true }) => string =
      createRequire(packageJson)('bindings');
    return search({ bindings: 'better_sqlite3.node', module_root: root, path: true });
  } catch {
    return undefined;
  }
}

/** How long a connection waits for another process's lock (the CLI and a server sharing the file). */
export const BUSY_TIMEOUT_MS = 5000;

export function openConnection(path: string): Db {
  const binding = nativeBindingPath();
  const db = new Database(path, binding === undefined ? {} : { nativeBinding: binding });
  db.pragma('journal_mode = WAL');
  // An acknowledged write must survive power loss, not only a process crash.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // The CLI and a running server may share the file; wait for the other's lock instead of failing.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // Deleted versions are overwritten in the file, not merely unlinked from the b-tree.
  db.pragma('secure_delete = ON');
  return db;
}

/**
 * Whether this SQLite writes a commit's WAL frames exactly as `synchronous=FULL` would, so that an
 * fsync of the `-wal` file made by Coffer after COMMIT leaves the same bytes on disk as FULL's own
 * (docs/adr/0012-wal-fsync-off-the-event-loop.md). True unless the library was built without
 * powersafe overwrite: then FULL pads each commit to a sector boundary and NORMAL does not.
 */
export function walFramesMatchFull(db: Db): boolean {
  const options = db.pragma('compile_options', { simple: false }) as { compile_options?: unknown }[];
  return !options.some((o) => o.compile_options === 'POWERSAFE_OVERWRITE=0');
}

export function busy(): UnavailableError {
  return new UnavailableError('database_busy', 'The database is busy; retry.');
}

export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT';
}

/**
 * A statement prepared on its first use, so that opening a connection prepares none of the ~55: the
 * CLI opens two connections for each command and one command uses a handful (BENCHMARKS.md).
 */
export class StatementOnFirstUse {
  readonly #db: Db;
  readonly #sql: string;
  /** Called on each use of a statement that may change a current-value row (null: never). */
  readonly #onUse: (() => void) | null;
  #pluck = false;
  #statement: Database.Statement | null = null;

  constructor(db: Db, sql: string, onUse: (() => void) | null = null) {
    this.#db = db;
    this.#sql = sql;
    this.#onUse = onUse;
  }

  /** As better-sqlite3's `pluck()`: rows come back as their first column. */
  pluck(): this {
    this.#pluck = true;
    return this;
  }

  #prepared(): Database.Statement {
    if (this.#statement === null) {
      const statement = this.#db.prepare(this.#sql);
      this.#statement = this.#pluck ? statement.pluck() : statement;
    }
    return this.#statement;
  }

  run(...params: unknown[]): Database.RunResult {
    this.#onUse?.();
    return this.#prepared().run(...params);
  }

  get(...params: unknown[]): unknown {
    this.#onUse?.();
    return this.#prepared().get(...params);
  }

  all(...params: unknown[]): unknown[] {
    this.#onUse?.();
    return this.#prepared().all(...params);
  }
}

/**
 * One open connection and what its statements share: the prepared statements of list queries, and
 * what the transaction on it did that the repository must act on after COMMIT. The reader and the
 * writer each have their own.
 */
export class SqliteConnection {
  readonly db: Db;
  readonly #s;

  constructor(db: Db) {
    this.db = db;
    this.#s = {
      ping: this.statement('SELECT 1').pluck(),
      bumpCredentialsEpoch: this.statement(
        `INSERT INTO coffer_meta (key, value) VALUES ('credentials_epoch', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
      ),
      credentialsEpoch: this.statement(
        "SELECT CAST(value AS INTEGER) FROM coffer_meta WHERE key = 'credentials_epoch'",
      ).pluck(),
      dataVersion: this.statement('PRAGMA data_version').pluck(),
    };
  }

  /** One of the contract's fixed statements, prepared on its first use. */
  statement(sql: string): StatementOnFirstUse {
    return new StatementOnFirstUse(this.db, sql, touchesValueRows(sql) ? this.#valuesTouched : null);
  }

  /**
   * Set when this connection ran a statement that may change a current-value row; the repository
   * reads and clears it at the end of each batch, and flushes its cache of those rows
   * (sqlite-value-row-cache.ts).
   */
  valuesTouched = false;
  readonly #valuesTouched = (): void => {
    this.valuesTouched = true;
  };

  ping(): void {
    this.#s.ping.get();
  }

  /**
   * Changes whenever another connection (of this process or another) commits or resets the WAL; not
   * for this connection's own commits. Cheap: no disk read.
   */
  dataVersion(): number {
    return this.#s.dataVersion.get() as number;
  }

  storedCredentialsEpoch(): number {
    const v = this.#s.credentialsEpoch.get();
    return typeof v === 'number' ? v : 0;
  }

  /** Set when this connection changed a credential; the repository reads and clears it after COMMIT. */
  credentialsTouched = false;

  /**
   * Set when this connection destroyed or replaced sealed bytes (a version's ciphertext or wrapped
   * key): the repository then empties the WAL after COMMIT, which still holds the frames that wrote
   * them (docs/adr/0008-deletion-leaves-no-ciphertext.md).
   */
  sealedBytesRemoved = false;

  credentialsChanged(): void {
    this.#s.bumpCredentialsEpoch.run();
    this.credentialsTouched = true;
  }

  /**
   * Statements for list queries, whose text depends on the filters used: prepared once per shape.
   * Shapes are few (filters × orders × directions), and the map is bounded anyway.
   */
  readonly #shapes = new Map<string, Database.Statement>();
  prepared(sql: string): Database.Statement {
    if (touchesValueRows(sql)) this.valuesTouched = true;
    let statement = this.#shapes.get(sql);
    if (statement === undefined) {
      if (this.#shapes.size >= 256) this.#shapes.clear();
      statement = this.db.prepare(sql);
      this.#shapes.set(sql, statement);
    }
    return statement;
  }
}
