import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 5: a deleted (or pruned) version must leave no copy of its ciphertext or wrapped
 * data key in any file of the SQLite data directory (database, WAL, shared memory) once the delete
 * or the write that pruned it has been answered. The WAL used to keep the frames of the insert.
 */
interface SealedRow {
  readonly version: number;
  readonly ciphertext: Buffer;
  readonly wrappedKey: Buffer;
}

describe('deleted values leave no ciphertext in the SQLite data directory', () => {
  let server: TestServer;
  const api = (method: string, path: string, body?: unknown) =>
    request(server.url, method, `/api/default/secrets/${path}`, {
      token: server.adminToken,
      ...(body === undefined ? {} : { body }),
    });
  /** A recognisable value, long enough to span pages and overflow pages as real certificates do. */
  const valueOf = (tag: string, size = 3000) =>
    `REMANENCE-${tag}-${randomBytes(Math.ceil(size / 2)).toString('hex')}`.slice(0, size);

  /** The stored versions of a secret, read from the file the way someone with the disk would. */
  function sealedRows(name: string): SealedRow[] {
    const db = new Database(join(server.dataDir, 'coffer.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db
        .prepare(
          `SELECT v.version, v.ciphertext, v.wrapped_key FROM sealed_versions v
             JOIN secrets s ON s.id = v.secret_id JOIN stores st ON st.id = s.store_id
            WHERE st.tenant_id = 'default' AND st.name = 'default' AND s.name = ? ORDER BY v.version`,
        )
        .all(name) as { version: number; ciphertext: Buffer; wrapped_key: Buffer }[];
      return rows.map((r) => ({ version: r.version, ciphertext: r.ciphertext, wrappedKey: r.wrapped_key }));
    } finally {
      db.close();
    }
  }

  /**
   * Every file of the data directory (recursively) holding any 32-byte piece of `needle`, by name. A
   * value larger than a page is split over overflow pages, so the whole buffer is never contiguous;
   * 32 random bytes found anywhere are a copy, never chance.
   */
  function filesHolding(needle: Buffer): string[] {
    const pieces: Buffer[] = [];
    for (let at = 0; at + 32 <= needle.length; at += 32) pieces.push(needle.subarray(at, at + 32));
    assert.ok(pieces.length > 0);
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else {
          const bytes = readFileSync(path);
          if (pieces.some((piece) => bytes.includes(piece))) found.push(entry);
        }
      }
    };
    walk(server.dataDir);
    return found;
  }

  /**
   * A removed version can no longer be opened: its wrapped data key, the only key to its ciphertext,
   * is in no file of the data directory, and its ciphertext is in none but the database file. There,
   * b-tree balancing may have left an old copy of the row in a page's free space (docs/adr/0008); that
   * copy is noise without the key. Both are gone from the WAL and -shm, which the scrub cut.
   */
  function assertGone(rows: readonly SealedRow[], what: string): void {
    for (const row of rows) {
      assert.deepEqual(
        filesHolding(row.ciphertext).filter((file) => file !== 'coffer.db'),
        [],
        `${what}: ciphertext of v${row.version}`,
      );
      assert.deepEqual(filesHolding(row.wrappedKey), [], `${what}: wrapped key of v${row.version}`);
    }
  }

  before(async () => {
    // SQLite by nature: the subject is the files of the data directory (PostgreSQL: docs/security.md).
    server = await startTestServer({ engine: 'sqlite' });
    // Neighbours around the victims, so that their pages are shared, split and rebalanced.
    for (let i = 0; i < 40; i++) {
      assert.equal(
        (await api('PUT', `NEIGHBOUR_${i}`, { value: valueOf(`n${i}`, 200 + i * 37) })).status,
        204,
      );
    }
  });
  after(() => server.close());

  it('the scan finds a live version, so an empty result means something', async () => {
    assert.equal((await api('PUT', 'LIVE', { value: valueOf('live') })).status, 204);
    const [row] = sealedRows('LIVE');
    assert.ok(row);
    assert.ok(filesHolding(row.ciphertext).length > 0, 'the live ciphertext is on disk');
    assert.ok(filesHolding(row.wrappedKey).length > 0, 'the live wrapped key is on disk');
  });

  it('DELETE leaves no ciphertext or wrapped key of any version in the database, WAL or -shm', async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await api('PUT', 'DOOMED', { value: valueOf(`d${i}`) })).status, 204);
    const rows = sealedRows('DOOMED');
    assert.equal(rows.length, 3);
    const res = await api('DELETE', 'DOOMED');
    assert.equal(res.status, 204, res.text);
    assert.deepEqual(sealedRows('DOOMED'), []);
    assertGone(rows, 'after DELETE');
    assert.ok(filesHolding(sealedRows('LIVE')[0]?.ciphertext ?? Buffer.alloc(0)).length > 0, 'others stay');
  });

  it('versions pruned by the eleventh and later writes leave nothing either', async () => {
    const pruned: SealedRow[] = [];
    for (let i = 0; i < 14; i++) {
      const before = sealedRows('ROTATED');
      assert.equal((await api('PUT', 'ROTATED', { value: valueOf(`r${i}`, 1000 + i * 300) })).status, 204);
      const kept = new Set(sealedRows('ROTATED').map((r) => r.version));
      pruned.push(...before.filter((r) => !kept.has(r.version)));
    }
    assert.deepEqual(
      pruned.map((r) => r.version),
      [1, 2, 3, 4],
      'the ten newest are kept',
    );
    assertGone(pruned, 'after pruning');
    assert.equal(sealedRows('ROTATED').length, 10);
  });

  it('deleting a store with force=true leaves nothing of its secrets either', async () => {
    const v1 = (method: string, path: string, body?: unknown) =>
      request(server.url, method, `/v1/tenants/default/stores${path}`, {
        token: server.adminToken,
        ...(body === undefined ? {} : { body }),
      });
    assert.equal((await v1('POST', '', { name: 'doomed-store' })).status, 201);
    const rows: SealedRow[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await v1('PUT', `/doomed-store/secrets/S${i}`, { value: valueOf(`s${i}`) });
      assert.equal(res.status, 201, res.text);
    }
    const db = new Database(join(server.dataDir, 'coffer.db'), { readonly: true });
    try {
      const found = db
        .prepare(
          `SELECT v.version, v.ciphertext, v.wrapped_key FROM sealed_versions v
             JOIN secrets s ON s.id = v.secret_id JOIN stores st ON st.id = s.store_id
            WHERE st.name = 'doomed-store'`,
        )
        .all() as { version: number; ciphertext: Buffer; wrapped_key: Buffer }[];
      rows.push(
        ...found.map((r) => ({ version: r.version, ciphertext: r.ciphertext, wrappedKey: r.wrapped_key })),
      );
    } finally {
      db.close();
    }
    assert.equal(rows.length, 3);
    assert.equal((await v1('DELETE', '/doomed-store?force=true')).status, 204);
    assertGone(rows, 'after deleting the store');
  });

  it('a Vault KV destroy leaves nothing of the destroyed versions, and keeps the others', async () => {
    const kv = (method: string, path: string, body?: unknown) =>
      request(server.url, method, `/vault/v1/default/${path}`, {
        headers: { 'x-vault-token': server.adminToken },
        ...(body === undefined ? {} : { body }),
      });
    for (let i = 0; i < 3; i++) {
      assert.equal((await kv('POST', 'data/DESTROYED', { data: { value: valueOf(`k${i}`) } })).status, 200);
    }
    const rows = sealedRows('DESTROYED');
    assert.equal(rows.length, 3);
    assert.equal((await kv('POST', 'destroy/DESTROYED', { versions: [1, 3] })).status, 204);
    assertGone(
      rows.filter((r) => r.version !== 2),
      'after destroy',
    );
    const [kept] = sealedRows('DESTROYED');
    assert.equal(kept?.version, 2);
    assert.ok(filesHolding(kept.ciphertext).length > 0, 'version 2 stays');
  });

  it('after churn that splits and rebalances pages, no wrapped key of a deleted version is anywhere', async () => {
    // B-tree balancing rebuilds a page without zeroing the gap it leaves, so a moved row's old bytes
    // can stay behind, out of secure_delete's reach (docs/adr/0008). Many writes of mixed sizes, in
    // parallel so that they interleave on the same pages, make such copies of every kind of row.
    const names = Array.from({ length: 300 }, (_, i) => `CHURN_${i}`);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        names.map((name, i) =>
          api('PUT', name, { value: valueOf(`c${round}-${i}`, 40 + ((i * 97 + round * 389) % 900)) }),
        ),
      );
      assert.ok(results.every((r) => r.status === 204));
    }
    const rows = names.flatMap((name) => sealedRows(name));
    assert.equal(rows.length, names.length * 3);
    const results = await Promise.all(names.map((name) => api('DELETE', name)));
    assert.ok(results.every((r) => r.status === 204));
    const left = rows.filter((row) => filesHolding(row.wrappedKey).length > 0);
    assert.deepEqual(
      left.map((r) => r.version),
      [],
      `${left.length} of ${rows.length} deleted versions' wrapped keys are still on disk`,
    );
    assertGone(rows, 'after the churn');
  });

  it("a webhook's replaced and deleted signing secrets leave no wrapped key either", async () => {
    const hooks = (method: string, path: string, body?: unknown) =>
      request(server.url, method, `/v1/tenants/default/webhooks${path}`, {
        token: server.adminToken,
        auth: 'bearer',
        ...(body === undefined ? {} : { body }),
      });
    const wrappedKeyOf = (id: string) => {
      const db = new Database(join(server.dataDir, 'coffer.db'), { readonly: true });
      try {
        const key = db.prepare('SELECT secret_wrapped_key FROM sealed_webhooks WHERE id = ?').pluck().get(id);
        assert.ok(Buffer.isBuffer(key) && key.length > 0, `webhook ${id} has a wrapped key`);
        return key;
      } finally {
        db.close();
      }
    };
    const created = await hooks('POST', '', {
      url: 'https://hooks.example.com/coffer',
      eventKinds: ['secret.created'],
    });
    assert.equal(created.status, 201, created.text);
    const { id } = created.json as { id: string };
    const first = wrappedKeyOf(id);
    assert.ok(filesHolding(first).length > 0, 'the scan finds the live key');
    const rotated = await hooks('POST', `/${id}/rotate-secret`);
    assert.equal(rotated.status, 200, rotated.text);
    const second = wrappedKeyOf(id);
    assert.deepEqual(filesHolding(first), [], 'the replaced key');
    assert.equal((await hooks('DELETE', `/${id}`)).status, 204);
    assert.deepEqual(filesHolding(second), [], "the deleted webhook's key");
  });

  it('holds under concurrent reads, and waits out a reader that holds the WAL open', async () => {
    for (let i = 0; i < 2; i++)
      assert.equal((await api('PUT', 'CONTESTED', { value: valueOf(`c${i}`) })).status, 204);
    const rows = sealedRows('CONTESTED');
    // Another connection (a backup, the CLI) in the middle of a read transaction: its snapshot pins
    // the WAL, so a checkpoint cannot empty it until the reader moves on.
    const reader = new Database(join(server.dataDir, 'coffer.db'), { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM secret_versions').get();
    let reading = true;
    const readers = Array.from({ length: 8 }, async (_, i) => {
      let reads = 0;
      while (reading) {
        const res = await api('GET', i % 2 === 0 ? 'LIVE' : `NEIGHBOUR_${i}`);
        assert.equal(res.status, 200);
        reads += 1;
      }
      return reads;
    });
    const deleted = api('DELETE', 'CONTESTED');
    await sleep(100);
    reader.exec('COMMIT');
    reader.close();
    const res = await deleted;
    reading = false;
    const reads = await Promise.all(readers);
    assert.equal(res.status, 204, res.text);
    assert.ok(
      reads.every((n) => n > 0),
      'reads went on meanwhile',
    );
    assertGone(rows, 'after a DELETE under concurrent reads');
  });
  it('a master-key rotation leaves no copy of the wrapped keys it replaced', async () => {
    // Last: it moves every data key of the suite under a new KEK (the server follows the file).
    const db = new Database(join(server.dataDir, 'coffer.db'), { readonly: true });
    let before: Buffer[];
    try {
      before = db.prepare('SELECT wrapped_key FROM sealed_versions').pluck().all() as Buffer[];
    } finally {
      db.close();
    }
    assert.ok(before.length > 10);
    const rotated = await runCoffer(['master-key', 'rotate'], { COFFER_DATA_DIR: server.dataDir });
    assert.equal(rotated.code, 0, rotated.stderr);
    const left = before.filter((key) => filesHolding(key).length > 0);
    assert.equal(
      left.length,
      0,
      `${left.length} of ${before.length} replaced wrapped keys are still on disk`,
    );
    const live = await api('GET', 'NEIGHBOUR_0');
    assert.equal(live.status, 200, live.text);
  });
});
