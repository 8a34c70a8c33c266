import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FileSync,
  fsyncOnThreadpool,
  SqliteRepository,
} from '../../src/storage/sqlite/sqlite-repository.js';
import { openDatabaseFile } from '../audit/audit-events.js';
import { request, type HttpResult } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { tempDir } from '../support/temp-dir.js';
import { EventStream } from '../v1/event-stream-client.js';
import { runCoffer } from '../support/coffer-process.js';

/**
 * The WAL sync that makes a COMMIT durable (docs/adr/0012-wal-fsync-off-the-event-loop.md), held
 * on demand: while held, each sync waits for release() before it runs the real fsync.
 */
class HeldSync {
  held = false;
  calls = 0;
  failNext = false;
  readonly #waiting: (() => void)[] = [];

  readonly sync: FileSync = async (fd) => {
    this.calls += 1;
    if (this.failNext) {
      this.failNext = false;
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    }
    if (this.held) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    await fsyncOnThreadpool(fd);
  };

  get waiting(): number {
    return this.#waiting.length;
  }

  release(): void {
    this.held = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

/** Polls (generously: the machine may be loaded) until `ready` holds. */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A request whose settling the test can look at without awaiting it. */
function track(pending: Promise<HttpResult>): { settled: () => boolean; result: Promise<HttpResult> } {
  let settled = false;
  const result = pending.finally(() => {
    settled = true;
  });
  return { settled: () => settled, result };
}

function auditEventCount(dataDir: string): number {
  const db = openDatabaseFile(dataDir, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM audit_events').pluck().get() as number;
  } finally {
    db.close();
  }
}

function storedSecretCount(dataDir: string): number {
  const db = openDatabaseFile(dataDir, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM secrets').pluck().get() as number;
  } finally {
    db.close();
  }
}

/**
 * A server whose WAL syncs the test holds (`gate`), polling chain heads every 50 ms (so a poll during
 * a held sync finds a commit), with a change stream on tenant `default` that has already received one
 * change (it is live).
 */
async function watchedServer(): Promise<{
  gate: HeldSync;
  server: TestServer;
  stream: EventStream;
  close: () => Promise<void>;
}> {
  const gate = new HeldSync();
  const server = await startTestServer({
    engine: 'sqlite',
    syncWal: gate.sync,
    env: { COFFER_WATCH_POLL_MS: '50' },
  });
  const stream = await EventStream.open(`${server.url}/v1/tenants/default/events`, server.adminToken);
  const close = async () => {
    stream.close();
    gate.release();
    await server.close();
  };
  try {
    assert.equal(stream.status, 200);
    const put = await request(server.url, 'PUT', '/api/default/secrets/first', {
      token: server.adminToken,
      body: { value: 'a' },
    });
    assert.equal(put.status, 204);
    await stream.waitFor('the first change', (s) => s.changes().some((c) => c.secret?.name === 'first'));
  } catch (error) {
    await close();
    throw error;
  }
  return { gate, server, stream, close };
}

describe('SQLite: no answer before the WAL sync that makes its commit durable', () => {
  test('a GET whose read event is committed waits for the sync, then answers', async () => {
    const gate = new HeldSync();
    const server = await startTestServer({ engine: 'sqlite', syncWal: gate.sync });
    try {
      const token = server.adminToken;
      const put = await request(server.url, 'PUT', '/api/default/secrets/held', {
        token,
        body: { value: 'durable-value' },
      });
      assert.equal(put.status, 204);
      const eventsBefore = auditEventCount(server.dataDir);
      gate.held = true;
      const get = track(request(server.url, 'GET', '/api/default/secrets/held', { token }));
      // The read's event is committed (another connection sees it) and its sync has been asked for...
      await until(() => gate.waiting > 0, 'the sync of the read event');
      assert.equal(auditEventCount(server.dataDir), eventsBefore + 1);
      // ...and, however long the sync takes, the value does not leave before it completes.
      await sleep(300);
      assert.equal(get.settled(), false, 'the GET was answered before its event was durable');
      gate.release();
      const res = await get.result;
      assert.equal(res.status, 200);
      assert.equal(res.text, 'durable-value');
    } finally {
      gate.release();
      await server.close();
    }
  });

  test('a PUT whose change is committed waits for the sync, then answers', async () => {
    const gate = new HeldSync();
    const server = await startTestServer({ engine: 'sqlite', syncWal: gate.sync });
    try {
      const token = server.adminToken;
      const secretsBefore = storedSecretCount(server.dataDir);
      gate.held = true;
      const put = track(
        request(server.url, 'PUT', '/api/default/secrets/held-write', {
          token,
          body: { value: 'v1' },
        }),
      );
      await until(() => gate.waiting > 0, 'the sync of the write');
      assert.equal(storedSecretCount(server.dataDir), secretsBefore + 1);
      await sleep(300);
      assert.equal(put.settled(), false, 'the PUT was acknowledged before it was durable');
      gate.release();
      assert.equal((await put.result).status, 204);
    } finally {
      gate.release();
      await server.close();
    }
  });

  test('a change committed but not yet durable is not announced: the watch stream gets it after the sync', async () => {
    const { gate, server, stream, close } = await watchedServer();
    try {
      const token = server.adminToken;
      gate.held = true;
      const put = track(
        request(server.url, 'PUT', '/api/default/secrets/not-yet-durable', { token, body: { value: 'b' } }),
      );
      await until(() => gate.waiting > 0, 'the sync of the write');
      assert.equal(storedSecretCount(server.dataDir) >= 2, true, 'the change is committed');
      // Many polls later: the stream has not been told of a change its writer has no answer for.
      await sleep(500);
      const named = (s: EventStream) => s.changes().some((c) => c.secret?.name === 'not-yet-durable');
      assert.equal(named(stream), false, 'a change was announced before it was durable');
      assert.equal(put.settled(), false);
      gate.release();
      assert.equal((await put.result).status, 204);
      await stream.waitFor('the change, once durable', named);
    } finally {
      await close();
    }
  });

  test("another process's change is announced only after this server synced the WAL that holds it", async () => {
    const { gate, server, stream, close } = await watchedServer();
    const home = tempDir('coffer-cli-home-');
    try {
      // The CLI commits, syncs (its own sync is not held) and exits; the server's feed sees a head
      // another process moved, and syncs the WAL itself before it reads past it: held here.
      gate.held = true;
      const cli = await runCoffer(
        ['secrets', 'set', 'FROM_CLI', 'cli-value', '--tenant', 'default', '--store', 'default'],
        { COFFER_DATA_DIR: server.dataDir, HOME: home.path },
      );
      assert.equal(cli.code, 0, cli.stderr);
      const named = (s: EventStream) => s.changes().some((c) => c.secret?.name === 'FROM_CLI');
      await until(() => gate.waiting > 0 || named(stream), "the server's sync, or the change");
      await sleep(300);
      assert.equal(named(stream), false, 'announced before the server synced the WAL');
      gate.release();
      await stream.waitFor("the CLI's change, once synced", named);
    } finally {
      await close();
      home.remove();
    }
  });

  test('a failed sync fails the request closed, and every later one until a restart', async () => {
    const gate = new HeldSync();
    const server = await startTestServer({ engine: 'sqlite', syncWal: gate.sync });
    const { dataDir, adminToken: token } = server;
    try {
      const put = await request(server.url, 'PUT', '/api/default/secrets/kept', {
        token,
        body: { value: 'kept-value-4711' },
      });
      assert.equal(put.status, 204);
      gate.failNext = true;
      const failed = await request(server.url, 'GET', '/api/default/secrets/kept', { token });
      assert.equal(failed.status, 503);
      assert.ok(!failed.text.includes('kept-value-4711'), 'the value left with a 503');
      // The next sync would succeed (the gate fails once): the server must not trust it.
      const later = await request(server.url, 'PUT', '/api/default/secrets/other', {
        token,
        body: { value: 'w' },
      });
      assert.equal(later.status, 503);
      assert.equal((await request(server.url, 'GET', '/readyz')).status, 503);
    } finally {
      await server.close({ keepData: true });
    }
    // A restart recovers from what is on disk, where the acknowledged write is.
    const again = await startTestServer({ engine: 'sqlite', dataDir });
    try {
      const res = await request(again.url, 'GET', '/api/default/secrets/kept', { token });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'kept-value-4711');
    } finally {
      await again.close();
    }
  });
});

describe('SQLite: a WAL sync covers every COMMIT made before it started', () => {
  const dir = tempDir('coffer-sqlite-sync-');
  after(() => dir.remove());

  /** Polls the reader connection until every key is committed (visible), answered or not. */
  async function committed(repo: SqliteRepository, keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      while ((await repo.getMeta(key)) === null) await sleep(5);
    }
  }

  test('at most two syncs run at once; commits made meanwhile share the next one', async () => {
    const gate = new HeldSync();
    const repo = SqliteRepository.open(join(dir.path, 'shared-sync.db'), { syncWal: gate.sync });
    try {
      gate.held = true;
      const first = repo.transaction(async (tx) => tx.setMeta('first', '1'));
      await until(() => gate.waiting === 1, 'the first sync');
      // Committed while the first sync runs: a second sync starts at once, not after the first.
      const a = Array.from({ length: 20 }, (_, i) =>
        repo.transaction(async (tx) => tx.setMeta(`a${i}`, 'x')),
      );
      await until(() => gate.waiting === 2, 'a second sync');
      // Committed while two run: no third until one of them ends.
      const bKeys = Array.from({ length: 20 }, (_, i) => `b${i}`);
      const b = bKeys.map((key) => repo.transaction(async (tx) => tx.setMeta(key, 'x')));
      await committed(repo, bKeys);
      assert.equal(gate.calls, 2, 'a third sync started while two were running');
      gate.release();
      await Promise.all([first, ...a, ...b]);
      // One more sync covered every commit of the second group.
      assert.equal(gate.calls, 3);
    } finally {
      gate.release();
      await repo.close();
    }
  });
});

describe('SQLite: the server checkpoints the WAL on a worker thread', () => {
  const dir = tempDir('coffer-sqlite-checkpoint-');
  after(() => dir.remove());

  test('with no checkpoint inside COMMIT, the WAL is still copied into the database', async () => {
    const file = join(dir.path, 'checkpointed.db');
    const repo = SqliteRepository.open(file, { checkpointInWorker: true });
    try {
      const before = statSync(file).size;
      const value = 'x'.repeat(4000);
      // ~8 MB through the WAL, in commits of 20 rows; the writer itself never checkpoints
      // (wal_autocheckpoint = 0), so the database file grows only by the worker's checkpoints.
      for (let batch = 0; batch < 100; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            repo.transaction(async (tx) => tx.setMeta(`big${batch}-${i}`, value)),
          ),
        );
      }
      await until(() => statSync(file).size >= before + 4_000_000, 'a checkpoint into the database file');
      assert.equal(await repo.getMeta('big99-19'), value);
    } finally {
      await repo.close();
    }
    // Closed cleanly (the worker's connection too): the file opens and reads back.
    const reopened = SqliteRepository.open(file);
    try {
      assert.equal((await reopened.getMeta('big0-0'))?.length, 4000);
    } finally {
      await reopened.close();
    }
  });
});
