import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  BUSY_TIMEOUT_MS,
  openConnection,
  SqliteConnection,
} from '../../src/storage/sqlite/sqlite-connection.js';
import { slotsPerRow, sqliteKeySlots } from '../../src/storage/sqlite/sqlite-key-slots.js';
import { migrate, SQLITE_MIGRATIONS } from '../../src/storage/sqlite/sqlite-migrations.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * docs/adr/0008-deletion-leaves-no-ciphertext.md: a wrapped data key lives only in a slot of an
 * overflow page, never in a b-tree page, whose free space balancing may leave a moved row's old
 * bytes in. Checked on the file itself: where each key's bytes are, and what kind of page that is.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('SQLite key slots', () => {
  const dir = tempDir('coffer-key-slots-');
  after(() => dir.remove());
  let files = 0;

  /** A migrated database of this page size (set before anything is written), and its slots. */
  function open(pageSize: number) {
    const path = join(dir.path, `${++files}.db`);
    const init = new Database(path);
    init.pragma(`page_size = ${pageSize}`);
    init.exec('VACUUM');
    init.close();
    const db = openConnection(path);
    migrate(db);
    assert.equal(db.pragma('page_size', { simple: true }), pageSize);
    return { path, db, slots: sqliteKeySlots(new SqliteConnection(db)) };
  }

  /** Every page of the file holding `needle`, by number (after a checkpoint moved the WAL in). */
  function pagesHolding(path: string, db: Database.Database, needle: Buffer, pageSize: number): number[] {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const file = readFileSync(path);
    const pages: number[] = [];
    for (let at = file.indexOf(needle); at !== -1; at = file.indexOf(needle, at + 1)) {
      pages.push(Math.floor(at / pageSize) + 1);
    }
    return pages;
  }

  /** A database file at schema version 8, as the last release before key slots left it. */
  function schema8File(): string {
    const path = join(dir.path, `${++files}.db`);
    const old = openConnection(path);
    old.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 8)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    old.close();
    return path;
  }

  for (const pageSize of [512, 1024, 4096, 8192, 65536]) {
    it(`page size ${pageSize}: each key is once in the file, in an overflow page of key_slots`, () => {
      const { path, db, slots } = open(pageSize);
      try {
        // Three rows' worth and then some, with keys of the sizes KEK ids give (62 + id bytes).
        const keys = Array.from({ length: 3 * slotsPerRow(pageSize) + 2 }, (_, i) =>
          randomBytes(64 + (i % 60)),
        );
        const stored = db.transaction(() => keys.map((key) => slots.store(key)))();
        assert.equal(new Set(stored).size, keys.length, 'a slot each');
        const overflow = new Set(
          db
            .prepare("SELECT pageno FROM dbstat WHERE name = 'key_slots' AND pagetype = 'overflow'")
            .pluck()
            .all() as number[],
        );
        assert.equal(overflow.size, 4, 'one overflow page a row');
        for (const key of keys) {
          const pages = pagesHolding(path, db, key, pageSize);
          assert.equal(pages.length, 1, 'exactly one copy');
          assert.ok(overflow.has(pages[0] ?? 0), `page ${pages[0]} is an overflow page of key_slots`);
        }
      } finally {
        db.close();
      }
    });
  }

  it("migration 9 moves versions' and webhooks' keys into slots and leaves one copy of each", () => {
    const path = schema8File();
    const old = openConnection(path);
    old.exec(`
      INSERT INTO tenants (id, created_at) VALUES ('t', 0);
      INSERT INTO stores (id, tenant_id, name, created_at, updated_at) VALUES ('st', 't', 's', 0, 0);
    `);
    const versionKeys = Array.from({ length: 70 }, () => randomBytes(70));
    const hookKeys = Array.from({ length: 150 }, () => randomBytes(72));
    const addSecret = old.prepare(
      "INSERT INTO secrets (id, store_id, name, created_at, updated_at) VALUES (?, 'st', ?, 0, 0)",
    );
    const addVersion = old.prepare(
      "INSERT INTO secret_versions (secret_id, version, kek_id, wrapped_key, ciphertext, created_at) VALUES (?, ?, 'k', ?, x'00', 0)",
    );
    versionKeys.forEach((key, i) => {
      if (i % 2 === 0) addSecret.run(`s${i}`, `n${i}`);
      addVersion.run(`s${i - (i % 2)}`, 1 + (i % 2), key);
    });
    const addHook = old.prepare(
      `INSERT INTO webhooks (id, tenant_id, url, event_kinds, stores, enabled, secret_kek_id, secret_wrapped_key,
         secret_ciphertext, secret_version, feed_cursor, created_at, updated_at)
       VALUES (?, 't', 'https://example.com/', '[]', '[]', 1, 'k', ?, x'00', 1, '', 0, 0)`,
    );
    hookKeys.forEach((key, i) => addHook.run(`h${i}`, key));
    // Rows rewritten as deliveries would (cursors of changing length), so that pages split and
    // rebalance and old copies of rows are left in their free space.
    const advance = old.prepare('UPDATE webhooks SET feed_cursor = ? WHERE id = ?');
    for (let round = 0; round < 6; round++) {
      hookKeys.forEach((_, i) => advance.run('c'.repeat(((i * 37 + round * 101) % 400) + 1), `h${i}`));
    }

    old.close();

    const db = openConnection(path);
    try {
      migrate(db);
      const versions = db
        .prepare('SELECT wrapped_key FROM sealed_versions ORDER BY secret_id, version')
        .pluck()
        .all() as Buffer[];
      assert.deepEqual(versions.length, versionKeys.length);
      assert.deepEqual(
        new Set(versions.map((k) => k.toString('hex'))),
        new Set(versionKeys.map((k) => k.toString('hex'))),
      );
      const hooks = db.prepare('SELECT id, secret_wrapped_key AS key FROM sealed_webhooks').all() as {
        id: string;
        key: Buffer;
      }[];
      assert.deepEqual(
        new Map(hooks.map((h) => [h.id, h.key])),
        new Map(hookKeys.map((key, i) => [`h${i}`, key])),
      );
      const columns = db.prepare("SELECT name FROM pragma_table_info('webhooks')").pluck().all();
      assert.ok(!columns.includes('secret_wrapped_key'), 'the old column is gone');
      assert.equal(db.prepare("SELECT count(*) FROM coffer_meta WHERE key = 'vacuum_owed'").pluck().get(), 0);
      const overflow = new Set(
        db
          .prepare("SELECT pageno FROM dbstat WHERE name = 'key_slots' AND pagetype = 'overflow'")
          .pluck()
          .all() as number[],
      );
      for (const key of [...versionKeys, ...hookKeys]) {
        const pages = pagesHolding(path, db, key, 4096);
        assert.equal(pages.length, 1, 'exactly one copy, after the VACUUM');
        assert.ok(overflow.has(pages[0] ?? 0), 'in an overflow page of key_slots');
      }
      db.prepare("DELETE FROM webhooks WHERE id = 'h0'").run();
      assert.deepEqual(
        pagesHolding(path, db, hookKeys[0] ?? Buffer.alloc(0), 4096),
        [],
        'a deleted webhook zeroes its slot',
      );
    } finally {
      db.close();
    }
  });

  it('a rewrap overwrites its slot; a deleted version zeroes its slot, which the next key reuses', () => {
    const pageSize = 4096;
    const { path, db, slots } = open(pageSize);
    try {
      const conn = new SqliteConnection(db);
      db.prepare("INSERT INTO tenants (id, created_at) VALUES ('t', 0)").run();
      db.prepare(
        "INSERT INTO stores (id, tenant_id, name, created_at, updated_at) VALUES ('st', 't', 's', 0, 0)",
      ).run();
      db.prepare(
        "INSERT INTO secrets (id, store_id, name, created_at, updated_at) VALUES ('s', 'st', 'n', 0, 0)",
      ).run();
      const insert = conn.statement(
        `INSERT INTO secret_versions (secret_id, version, kek_id, key_slot, key_len, ciphertext, created_at)
         VALUES ('s', ?, 'k', ?, ?, x'00', 0)`,
      );
      const first = randomBytes(70);
      const second = randomBytes(70);
      const slot1 = slots.store(first);
      insert.run(1, slot1, first.length);
      const slot2 = slots.store(second);
      insert.run(2, slot2, second.length);
      const read = db.prepare('SELECT wrapped_key FROM sealed_versions WHERE version = ?').pluck();
      assert.deepEqual(read.get(1), first);

      const rewrapped = randomBytes(75);
      slots.overwrite(slot1, rewrapped);
      db.prepare('UPDATE secret_versions SET key_len = ? WHERE version = 1').run(rewrapped.length);
      assert.deepEqual(read.get(1), rewrapped);
      assert.deepEqual(pagesHolding(path, db, first, pageSize), [], 'the replaced key is gone');

      db.prepare('DELETE FROM secret_versions WHERE version = 2').run();
      assert.deepEqual(pagesHolding(path, db, second, pageSize), [], 'the deleted key is gone');
      assert.deepEqual(read.get(1), rewrapped, 'its neighbour stays');
      assert.equal(slots.store(randomBytes(70)), slot2, 'the freed slot is used again');
    } finally {
      db.close();
    }
  });
  it('another process waits for a migration longer than the 5 s busy timeout of everyday writes', async () => {
    const path = schema8File();
    // Another process in a long migration (or its VACUUM): it holds the write lock for 6.5 s.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(process.argv[1]);
         db.exec('BEGIN IMMEDIATE'); console.log('locked');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6500);
         db.exec('COMMIT'); db.close();`,
        path,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const started = Date.now();
    const db = openConnection(path);
    try {
      migrate(db);
      assert.ok(Date.now() - started > BUSY_TIMEOUT_MS, 'it waited past the everyday timeout');
      assert.equal(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 9);
      assert.equal(db.pragma('busy_timeout', { simple: true }), BUSY_TIMEOUT_MS, 'and restored it');
    } finally {
      db.close();
      await exited;
    }
  });
});
