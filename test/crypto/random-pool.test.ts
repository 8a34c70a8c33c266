import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pooledRandomBytes } from '../../src/crypto/random-pool.js';

describe('pooled random bytes', () => {
  it('hands out every byte once: 2,000 nonces across several refills are all different', () => {
    // 2,000 × 12 bytes spans six 4 KiB fills, and a draw that does not fit the rest of a fill.
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const nonce = pooledRandomBytes(12);
      assert.equal(nonce.length, 12);
      seen.add(nonce.toString('hex'));
    }
    assert.equal(seen.size, 2000);
  });

  it('gives each draw its own memory, so wiping a key wipes no other draw', () => {
    const key = pooledRandomBytes(32);
    const next = pooledRandomBytes(32);
    const copy = Buffer.from(next);
    assert.notEqual(key.buffer, next.buffer);
    key.fill(0);
    assert.deepEqual(next, copy);
    assert.equal(key.byteOffset, 0, 'not a view into a shared slab');
  });

  it('serves sizes past the pooled bound and zero, and refuses nonsense', () => {
    assert.equal(pooledRandomBytes(0).length, 0);
    const big = pooledRandomBytes(4096);
    assert.equal(big.length, 4096);
    assert.notDeepEqual(big.subarray(0, 32), Buffer.alloc(32));
    assert.throws(() => pooledRandomBytes(-1), RangeError);
    assert.throws(() => pooledRandomBytes(1.5), RangeError);
  });
});
