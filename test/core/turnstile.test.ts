import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedTurnstile } from '../../src/core/turnstile.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyedTurnstile', () => {
  it('lets the callers of one key through one at a time, in arrival order', async () => {
    const turns = new KeyedTurnstile();
    const order: string[] = [];
    const first = await turns.take(['a']);
    const second = turns.take(['a']).then((release) => {
      order.push('second');
      return release;
    });
    const third = turns.take(['a']).then((release) => {
      order.push('third');
      return release;
    });
    await tick();
    assert.deepEqual(order, [], 'nobody passes while the first holds the key');
    first();
    first(); // idempotent: it must not open a second turn
    (await second)();
    await tick();
    assert.deepEqual(order, ['second', 'third']);
    (await third)();
    assert.equal(turns.size, 0, 'a key nobody holds or waits for is forgotten');
  });

  it('never makes callers of different keys wait on each other', async () => {
    const turns = new KeyedTurnstile();
    const a = await turns.take(['tenant-a']);
    const b = await turns.take(['tenant-b']);
    a();
    b();
    assert.equal(turns.size, 0);
  });

  it('takes several keys in sorted order, so overlapping callers cannot wait in a cycle', async () => {
    const turns = new KeyedTurnstile();
    const both = turns.take(['b', 'a']);
    const reversed = turns.take(['a', 'b']);
    const first = await both;
    let secondIn = false;
    void reversed.then(() => {
      secondIn = true;
    });
    await tick();
    assert.equal(secondIn, false);
    first();
    (await reversed)();
    assert.equal(turns.size, 0);
  });
});
