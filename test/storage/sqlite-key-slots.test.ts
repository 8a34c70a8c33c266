import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openConnection, SqliteConnection } from '../../src/storage/sqlite/sqlite-connection.js';
import { slotsPerRow, sqliteKeySlots } from '../../src/storage/sqlite/sqlite-key-slots.js';
import { migrate } from '../../src/storage/sqlite/sqlite-migrations.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * docs/adr/0008-deletion-leaves-no-ciphertext.md: a wrapped data key lives only in a slot of an
 * overflow page, never in a b-tree page, whose free space balancing may leave a moved row's old
 * bytes in. Checked on the file itself: where each key's bytes are, and what kind of page that is.
 */
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
});
