import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import { InstrumentedRepository } from '../../src/storage/instrumented-repository.js';
import { SqliteRepository } from '../../src/storage/sqlite/sqlite-repository.js';
import { tempDir } from '../support/temp-dir.js';
import { describeRepositoryContract } from './repository-contract.js';

const dir = tempDir('coffer-sqlite-contract-');
let files = 0;

describeRepositoryContract({
  name: 'sqlite',
  // A fresh database file per test.
  open: async () => SqliteRepository.open(join(dir.path, `${++files}.db`)),
  // Two connections sets over one file, as the server and the CLI hold.
  openPair: async () => {
    const file = join(dir.path, `${++files}.db`);
    return [SqliteRepository.open(file), SqliteRepository.open(file)];
  },
  cleanup: async () => dir.remove(),
});

describe('SQLite group commit', () => {
  const own = tempDir('coffer-sqlite-group-commit-');
  after(() => own.remove());
  test('concurrent transactions share commits; a failing one is rolled back alone', async () => {
    const repo = SqliteRepository.open(join(own.path, 'group-commit.db'));
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) =>
          repo.transaction(async (tx) => {
            await tx.setMeta(`k${i}`, `v${i}`);
            if (i % 17 === 0) throw new Error(`abort ${i}`);
            return i;
          }),
        ),
      );
      results.forEach((r, i) => {
        if (i % 17 === 0) assert.equal(r.status, 'rejected', `transaction ${i}`);
        else assert.deepEqual(r, { status: 'fulfilled', value: i });
      });
      for (let i = 0; i < 200; i++) {
        assert.equal(await repo.getMeta(`k${i}`), i % 17 === 0 ? null : `v${i}`, `k${i}`);
      }
    } finally {
      await repo.close();
    }
  });

  test('writerBusy reaches the webhook worker through the timing wrapper', async () => {
    const inner = SqliteRepository.open(join(own.path, 'group-commit-busy.db'));
    const repo = new InstrumentedRepository(inner, { observeDb: () => undefined });
    try {
      let release = () => undefined as void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const pending = repo.transaction(async () => held);
      await setImmediatePromise();
      assert.equal(repo.writerBusy(), true);
      release();
      await pending;
      for (let i = 0; i < 100 && repo.writerBusy() === true; i++) await setImmediatePromise();
      assert.equal(repo.writerBusy(), false);
    } finally {
      await repo.close();
    }
  });

  test('a transaction is answered only once its commit is readable, and close waits for queued ones', async () => {
    const repo = SqliteRepository.open(join(own.path, 'group-commit-close.db'));
    const pending = Array.from({ length: 50 }, (_, i) =>
      repo.transaction(async (tx) => {
        await tx.setMeta(`c${i}`, 'x');
      }),
    );
    await pending[0];
    // Committed means visible to the reader connection.
    assert.equal(await repo.getMeta('c0'), 'x');
    await repo.close();
    await Promise.all(pending);
    const reopened = SqliteRepository.open(join(own.path, 'group-commit-close.db'));
    try {
      for (let i = 0; i < 50; i++) assert.equal(await reopened.getMeta(`c${i}`), 'x');
    } finally {
      await reopened.close();
    }
  });
});
