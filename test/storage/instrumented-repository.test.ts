import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { join } from 'node:path';
import { InstrumentedRepository } from '../../src/storage/instrumented-repository.js';
import { SqliteRepository } from '../../src/storage/sqlite/sqlite-repository.js';
import { tempDir } from '../support/temp-dir.js';

const dir = tempDir('coffer-instrumented-');
after(() => dir.remove());

test('the timing wrapper forwards each call to the engine and times reads, transactions and ping', async () => {
  const inner = SqliteRepository.open(join(dir.path, 'timed.db'));
  const timed: string[] = [];
  const repo = new InstrumentedRepository(inner, {
    observeDb: (operation, seconds) => {
      assert.ok(seconds >= 0);
      timed.push(operation);
    },
  });

  assert.equal(repo.engine, 'sqlite');
  const created = await repo.transaction(async (tx) => {
    await tx.setMeta('probe', 'one');
    return tx.ensureTenant({ id: 't1', createdAt: 1 });
  });
  assert.equal(created, true);
  assert.deepEqual(timed, ['transaction'], 'the calls inside a transaction are timed as one');

  assert.deepEqual(await repo.getTenant('t1'), await inner.getTenant('t1'));
  assert.equal(await repo.getMeta('probe'), 'one');
  assert.deepEqual(await repo.listStores('t1'), []);
  await repo.ping();
  assert.deepEqual(timed, ['transaction', 'getTenant', 'getMeta', 'listStores', 'ping']);

  const failure = new Error('rolled back');
  await assert.rejects(
    repo.transaction(async (tx) => {
      await tx.setMeta('probe', 'two');
      throw failure;
    }),
    (error) => error === failure,
  );
  assert.equal(await repo.getMeta('probe'), 'one');
  assert.deepEqual(timed.slice(5), ['transaction', 'getMeta'], 'a failed call is timed too');

  assert.equal(repo.credentialsEpoch(), inner.credentialsEpoch());
  await repo.close();
  assert.equal(timed.length, 7, 'credentialsEpoch and close pass through untimed');
  await assert.rejects(
    inner.transaction(async () => undefined),
    /busy/,
    'close reached the engine',
  );
});
