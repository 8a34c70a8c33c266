import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { touchesValueRows, ValueRowCache } from '../../src/storage/sqlite/sqlite-value-row-cache.js';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * The SQLite engine keeps the sealed rows of recent value reads (src/storage/sqlite/
 * sqlite-value-row-cache.ts). A cached row must never outlive a change: made by this server through
 * any facade, or by another process (the CLI writing the same data directory).
 */
describe('SQLite: the cache of sealed value rows never serves a changed value', () => {
  let server: TestServer;
  let work: { path: string; remove(): void };
  before(async () => {
    server = await startTestServer({ engine: 'sqlite' });
    work = tempDir('coffer-value-rows-');
  });
  after(async () => {
    await server.close();
    work.remove();
  });

  const get = (name: string) =>
    request(server.url, 'GET', `/api/default/secrets/${name}`, { token: server.adminToken });
  const put = (name: string, value: string) =>
    request(server.url, 'PUT', `/api/default/secrets/${name}`, {
      token: server.adminToken,
      body: { value },
    });

  it("another process's new value and delete are seen at once", async () => {
    assert.equal((await put('CLI_CHANGED', 'server-value-1')).status, 204);
    // Read twice: the second read is served from the cache.
    for (let i = 0; i < 2; i++) assert.equal((await get('CLI_CHANGED')).text, 'server-value-1');
    const env = { COFFER_DATA_DIR: server.dataDir, HOME: work.path };
    const at = ['--tenant', 'default', '--store', 'default'];
    const set = await runCoffer(['secrets', 'set', 'CLI_CHANGED', 'cli-value-2', ...at], env);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await get('CLI_CHANGED')).text, 'cli-value-2');
    assert.equal((await get('CLI_CHANGED')).text, 'cli-value-2');
    const deleted = await runCoffer(['secrets', 'delete', 'CLI_CHANGED', ...at], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await get('CLI_CHANGED')).status, 404);
  });

  it("this server's changes through another facade are seen at once", async () => {
    assert.equal((await put('FACADES', 'neostore-1')).status, 204);
    for (let i = 0; i < 2; i++) assert.equal((await get('FACADES')).text, 'neostore-1');
    const v1 = await request(server.url, 'PUT', '/v1/tenants/default/stores/default/secrets/FACADES', {
      token: server.adminToken,
      auth: 'bearer',
      body: { value: 'v1-api-2' },
    });
    assert.ok(v1.status < 300, v1.text);
    assert.equal((await get('FACADES')).text, 'v1-api-2');
    const gone = await request(server.url, 'DELETE', '/v1/tenants/default/stores/default/secrets/FACADES', {
      token: server.adminToken,
      auth: 'bearer',
    });
    assert.ok(gone.status < 300, gone.text);
    assert.equal((await get('FACADES')).status, 404);
  });
});

describe('SQLite: which statements flush the cache of value rows', () => {
  it('every write that may change a row, and unknown statements; not reads, nor the audit trail', () => {
    for (const sql of [
      'INSERT INTO secrets (id) VALUES (?)',
      'UPDATE secrets SET current_version = ? WHERE id = ?',
      'DELETE FROM secret_versions WHERE secret_id = ?',
      'UPDATE secret_versions SET kek_id = ?, wrapped_key = ?',
      'DELETE FROM stores WHERE id = ?',
      'UPDATE stores SET name = ? WHERE id = ?',
      'INSERT INTO tenants (id) VALUES (?)',
      'INSERT OR REPLACE INTO secrets (id) VALUES (?)',
      'WITH x AS (SELECT 1) DELETE FROM secrets WHERE id IN x',
      'VACUUM',
    ]) {
      assert.equal(touchesValueRows(sql), true, sql);
    }
    for (const sql of [
      'SELECT * FROM secrets WHERE id = ?',
      '  select 1',
      'PRAGMA data_version',
      'INSERT INTO audit_events (seq) VALUES (?)',
      'UPDATE audit_chains SET head_seq = ?',
      'INSERT INTO webhook_deliveries (n) VALUES (?)',
      'DELETE FROM version_states WHERE secret_id = ?',
      "INSERT INTO coffer_meta (key, value) VALUES ('credentials_epoch', '1')",
    ]) {
      assert.equal(touchesValueRows(sql), false, sql);
    }
  });

  it('is bounded by bytes too, and keeps no row of a large value', () => {
    const sized = (bytes: number) => ({
      storeId: 's',
      secretId: 'x',
      version: 1,
      notBefore: null,
      expiresOn: null,
      sealed: { kekId: 'k', wrappedKey: Buffer.alloc(60), ciphertext: Buffer.alloc(bytes - 60) },
    });
    const cache = new ValueRowCache(100, 10_000);
    for (let i = 0; i < 4; i++) cache.set(cache.generation, 't', 's', `n${i}`, sized(3_000));
    assert.equal(cache.size, 3, 'the fourth 3,000-byte row pushed the first out');
    assert.equal(cache.bytes, 9_000);
    assert.equal(cache.get('t', 's', 'n0'), undefined);
    // The same name again replaces its row, and its bytes.
    cache.set(cache.generation, 't', 's', 'n3', sized(1_000));
    assert.equal(cache.bytes, 7_000);
    // A value of 64 KiB is not kept at all.
    cache.set(cache.generation, 't', 's', 'big', sized(64 * 1024 + 100));
    assert.equal(cache.get('t', 's', 'big'), undefined);
    assert.equal(cache.bytes, 7_000);
  });

  it('is bounded, least recently used out first, and keeps no row read before a flush', () => {
    const cache = new ValueRowCache(2);
    const row = (version: number) => ({
      storeId: 's',
      secretId: 'x',
      version,
      notBefore: null,
      expiresOn: null,
      sealed: { kekId: 'k', wrappedKey: Buffer.alloc(1), ciphertext: Buffer.alloc(1) },
    });
    cache.set(cache.generation, 't', 'default', 'A', row(1));
    cache.set(cache.generation, 't', 'default', 'B', row(2));
    assert.equal(cache.get('t', 'default', 'A')?.version, 1);
    cache.set(cache.generation, 't', 'default', 'C', row(3));
    assert.equal(cache.size, 2);
    assert.equal(cache.get('t', 'default', 'B'), undefined, 'B was the least recently used');
    // Names are not confused whatever they hold.
    assert.equal(cache.get('t', 'defaultA', ''), undefined);
    const before = cache.generation;
    cache.flush();
    assert.equal(cache.size, 0);
    cache.set(before, 't', 'default', 'A', row(4));
    assert.equal(cache.get('t', 'default', 'A'), undefined, 'a row read before the flush was kept');
  });
});
