import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  DISPLAY_PREFIX_LENGTH,
  displayPrefix,
  generateToken,
  hashesEqual,
  hashToken,
  hasTokenShape,
  isWellFormedToken,
  newId,
  TOKEN_LENGTH,
  TOKEN_PREFIX,
} from '../../src/crypto/tokens.js';

/**
 * The token format (src/crypto/tokens.ts): `coffer_` + 43 base62 characters + a 6-character base62
 * checksum, stored only as SHA-256(token). Checked through the real module, against tokens that an
 * earlier version issued, so that a change of the checksum or the encoding cannot pass unnoticed.
 */

/** Issued by the code of schema version 2 (test/fixtures/upgrade/schema-2/*\/manifest.json). */
const ISSUED_EARLIER = [
  'coffer_podaRs6gkjqTsiANjGyK9cs8YVsD9cTDxmJN2RogVxM3bhjtc',
  'coffer_TgNTdo3mHz5FxXFkR7luvc5GFYB1fW1FARxbqS5T9Ru3OTAb7',
  'coffer_1hbQZGHTeBtHTluG2PO2OySDFrI7GJlDY8u2KE5cqbA2z8WwL',
  'coffer_2lB0Vj0i8iLuhRPKPv6qBZLnHuzzFqB32JcvqPIPRb83hlSei',
  'coffer_ICWFW7Aj8TTvQcPisRJrylPIgX87sFCXw60mQOZ5EQg3yUyDU',
];
const BODY_END = TOKEN_PREFIX.length + 43;

/** The same token with the character at `index` replaced by another alphabet character. */
function withCharChanged(token: string, index: number): string {
  const replacement = token[index] === 'A' ? 'B' : 'A';
  return `${token.slice(0, index)}${replacement}${token.slice(index + 1)}`;
}

describe('API tokens', () => {
  it('have the documented shape: coffer_, 49 base62 characters', () => {
    assert.equal(TOKEN_PREFIX, 'coffer_');
    assert.equal(TOKEN_LENGTH, 56);
    const token = generateToken();
    assert.match(token, /^coffer_[0-9A-Za-z]{49}$/);
    assert.equal(hasTokenShape(token), true);
    assert.equal(isWellFormedToken(token), true);
  });

  it('are padded to full length, whatever the random number (1 in ~60 has a leading zero digit)', () => {
    // 43 base62 digits hold 256 bits, but about one random value in 60 needs only 42: the body is
    // padded with '0'. A thousand tokens miss that case with a probability of about e^-16.
    const tokens = Array.from({ length: 1000 }, () => generateToken());
    for (const token of tokens) {
      assert.equal(token.length, TOKEN_LENGTH, token);
      assert.equal(isWellFormedToken(token), true, token);
    }
  });

  it('carry 256 random bits: no two alike, and the body is not a constant', () => {
    const bodies = new Set(
      Array.from({ length: 200 }, () => generateToken().slice(TOKEN_PREFIX.length, BODY_END)),
    );
    assert.equal(bodies.size, 200);
    for (const body of bodies) assert.notEqual(body, '0'.repeat(43));
    // Every base62 character appears somewhere in 200 × 43 random digits.
    const seen = new Set([...bodies].join(''));
    assert.equal(seen.size, 62);
  });

  it('tokens issued by an earlier version are still well formed (same checksum, same encoding)', () => {
    for (const token of ISSUED_EARLIER) {
      assert.equal(hasTokenShape(token), true, token);
      assert.equal(isWellFormedToken(token), true, token);
    }
  });

  it('a changed character in the body or the checksum fails the checksum', () => {
    for (const token of [...ISSUED_EARLIER, generateToken()]) {
      for (const index of [TOKEN_PREFIX.length, BODY_END - 1, BODY_END, TOKEN_LENGTH - 1]) {
        const changed = withCharChanged(token, index);
        assert.equal(hasTokenShape(changed), true, changed);
        assert.equal(isWellFormedToken(changed), false, changed);
      }
    }
  });

  it('refuses another prefix, another length or a character outside base62, even with a valid checksum', () => {
    const token = generateToken();
    const rest = token.slice(TOKEN_PREFIX.length);
    for (const wrong of [
      `COFFER_${rest}`,
      `cofferx${rest}`,
      `coffer-${rest}`,
      `xcoffer_${rest}`.slice(0, TOKEN_LENGTH),
      `${token}A`,
      token.slice(0, -1),
      `${token.slice(0, 20)}-${token.slice(21)}`,
      `${token.slice(0, 20)}_${token.slice(21)}`,
      `${token.slice(0, 20)}é${token.slice(21)}`,
      `coffer_${'-'.repeat(49)}`,
      '',
    ]) {
      assert.equal(hasTokenShape(wrong), false, wrong);
      assert.equal(isWellFormedToken(wrong), false, wrong);
    }
  });

  it('are stored as SHA-256 of their UTF-8 text', () => {
    for (const token of [...ISSUED_EARLIER, generateToken(), 'not a token, still hashed: é']) {
      const expected = createHash('sha256').update(Buffer.from(token, 'utf8')).digest();
      assert.deepEqual(hashToken(token), expected);
    }
  });

  it('show only the prefix and four random characters', () => {
    assert.equal(DISPLAY_PREFIX_LENGTH, 11);
    const token = generateToken();
    assert.equal(displayPrefix(token), token.slice(0, 11));
    assert.equal(displayPrefix(ISSUED_EARLIER[0] ?? ''), 'coffer_poda');
  });

  it('hashes compare equal only when identical, and unequal lengths do not throw', () => {
    const a = hashToken(generateToken());
    assert.equal(hashesEqual(a, Buffer.from(a)), true);
    const flipped = Buffer.from(a);
    flipped[31] = (flipped[31] ?? 0) ^ 0x01;
    assert.equal(hashesEqual(a, flipped), false);
    assert.equal(hashesEqual(a, hashToken(generateToken())), false);
    assert.equal(hashesEqual(a, a.subarray(0, 16)), false);
    assert.equal(hashesEqual(a.subarray(0, 16), a), false);
    assert.equal(hashesEqual(a, Buffer.alloc(0)), false);
  });
});

describe('ids', () => {
  it('are 32 lowercase hex characters, random', () => {
    const ids = Array.from({ length: 100 }, () => newId());
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(new Set(ids).size, 100);
  });
});
