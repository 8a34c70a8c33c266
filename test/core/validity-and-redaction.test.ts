import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeName } from '../../src/core/audit-redaction.js';
import type { ValidityWindow } from '../../src/core/model.js';
import { isWithinWindow } from '../../src/core/validity-window.js';
import { generateToken } from '../../src/crypto/tokens.js';

/**
 * Two small rules the read path and the audit trail depend on, checked at their exact edges:
 * a value is served from `notBefore` (inclusive) until `expiresOn` (exclusive); a name is written to
 * the audit trail only if it is name-shaped and not a Coffer token. test/security/boundaries.test.ts
 * proves the same through every HTTP read path with an injected clock.
 */
const NOT_BEFORE = Date.UTC(2031, 4, 1, 12, 0, 0, 0);
const EXPIRES_ON = Date.UTC(2031, 4, 2, 12, 0, 0, 0);

describe('isWithinWindow', () => {
  const both: ValidityWindow = { notBefore: NOT_BEFORE, expiresOn: EXPIRES_ON };

  it('from notBefore, inclusive, until expiresOn, exclusive', () => {
    assert.equal(isWithinWindow(both, NOT_BEFORE - 1), false);
    assert.equal(isWithinWindow(both, NOT_BEFORE), true);
    assert.equal(isWithinWindow(both, NOT_BEFORE + 1), true);
    assert.equal(isWithinWindow(both, EXPIRES_ON - 1), true);
    assert.equal(isWithinWindow(both, EXPIRES_ON), false);
    assert.equal(isWithinWindow(both, EXPIRES_ON + 1), false);
  });

  it('an open end is no bound', () => {
    const noStart: ValidityWindow = { notBefore: null, expiresOn: EXPIRES_ON };
    assert.equal(isWithinWindow(noStart, 0), true);
    assert.equal(isWithinWindow(noStart, EXPIRES_ON - 1), true);
    assert.equal(isWithinWindow(noStart, EXPIRES_ON), false);

    const noEnd: ValidityWindow = { notBefore: NOT_BEFORE, expiresOn: null };
    assert.equal(isWithinWindow(noEnd, NOT_BEFORE - 1), false);
    assert.equal(isWithinWindow(noEnd, NOT_BEFORE), true);
    assert.equal(isWithinWindow(noEnd, Date.UTC(9999, 0, 1)), true);

    const open: ValidityWindow = { notBefore: null, expiresOn: null };
    for (const now of [0, 1, NOT_BEFORE, Date.UTC(9999, 0, 1)]) assert.equal(isWithinWindow(open, now), true);
  });

  it('a window that has already closed, or not opened, whatever the other bound', () => {
    assert.equal(isWithinWindow({ notBefore: null, expiresOn: NOT_BEFORE }, EXPIRES_ON), false);
    assert.equal(isWithinWindow({ notBefore: EXPIRES_ON, expiresOn: null }, NOT_BEFORE), false);
  });
});

describe('safeName (what of a caller-supplied name reaches the audit trail)', () => {
  it('an ordinary name is kept as it is', () => {
    for (const name of ['DB_PASSWORD', 'a', 'prod/db.password-2', 'x'.repeat(255), 'coffer_not_a_token']) {
      assert.equal(safeName(name), name);
    }
  });

  it('anything not name-shaped is replaced', () => {
    for (const name of [
      '',
      'x'.repeat(256),
      'with space',
      'semi;colon',
      'new\nline',
      'ok\n',
      '\nok',
      'ümlaut',
      '../*',
      'a\u0000b',
    ]) {
      assert.equal(safeName(name), '(invalid)', JSON.stringify(name));
    }
  });

  it('a well-formed token is replaced, even though it is name-shaped', () => {
    const token = generateToken();
    assert.equal(safeName(token), '(token-like)');
    // One changed character breaks the checksum: noise of the same shape is an ordinary name.
    const noise = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    assert.equal(safeName(noise), noise);
  });
});
