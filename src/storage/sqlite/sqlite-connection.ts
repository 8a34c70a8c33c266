import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { UnavailableError } from '../../core/errors.js';

export type Db = Database.Database;

/**
 * The compiled addon where `npm install` builds it. Naming it skips the `bindings` package's search
 * of a dozen candidate paths, which every CLI command that opens the database would pay for at
 * start-up; when it is elsewhere (a Debug build), better-sqlite3 searches as usual.
 */
const NATIVE_BINDING: string | undefined = (() => {
  try {
    const root = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
    const file = join(root, 'build', 'Release', 'better_sqlite3.node');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
})();

/** How long a connection waits for another process's lock (the CLI and a server sharing the file). */
export const BUSY_TIMEOUT_MS = 5000;

export function openConnection(path: string): Db {
  const db = new Database(path, NATIVE_BINDING === undefined ? {} : { nativeBinding: NATIVE_BINDING });
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

export function busy(): UnavailableError {
  return new UnavailableError('database_busy', 'The database is busy; retry.');
}

export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT';
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
      ping: db.prepare('SELECT 1').pluck(),
      bumpCredentialsEpoch: db.prepare(
        `INSERT INTO coffer_meta (key, value) VALUES ('credentials_epoch', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
      ),
      credentialsEpoch: db
        .prepare("SELECT CAST(value AS INTEGER) FROM coffer_meta WHERE key = 'credentials_epoch'")
        .pluck(),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
    };
  }

  ping(): void {
    this.#s.ping.get();
  }

  /** Changes whenever any connection (this or another process) commits. Cheap: no disk read. */
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
    let statement = this.#shapes.get(sql);
    if (statement === undefined) {
      if (this.#shapes.size >= 256) this.#shapes.clear();
      statement = this.db.prepare(sql);
      this.#shapes.set(sql, statement);
    }
    return statement;
  }
}
