import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CryptoError, openValue, sealValue, type ValueOwner } from '../../src/crypto/envelope.js';
import { Keyring, kekIdFor } from '../../src/crypto/keyring.js';
import { generateToken, hashToken, isWellFormedToken, TOKEN_LENGTH } from '../../src/crypto/tokens.js';

const owner: ValueOwner = { tenantId: 'acme', storeId: 'a'.repeat(32), secretId: 'b'.repeat(32), version: 1 };
const plaintext = Buffer.from('s3cr3t-välue-🔐', 'utf8');

function expectCryptoError(fn: () => unknown, code: CryptoError['code']): void {
  assert.throws(fn, (e: unknown) => e instanceof CryptoError && e.code === code);
}

describe('envelope encryption', () => {
  const keyring = new Keyring([randomBytes(32)]);

  it('round-trips and names the KEK in the stored format', () => {
    const sealed = sealValue(keyring, owner, plaintext);
    assert.equal(sealed.kekId, keyring.active.id);
    assert.equal(sealed.ciphertext[0], 0x01, 'ciphertext format version');
    assert.equal(sealed.wrappedKey[0], 0x01, 'wrapped-key format version');
    assert.ok(
      sealed.wrappedKey.includes(Buffer.from(keyring.active.id, 'ascii')),
      'wrapped key names its KEK',
    );
    assert.ok(!sealed.ciphertext.includes(plaintext), 'no plaintext in the ciphertext');
    assert.deepEqual(openValue(keyring, owner, sealed), plaintext);
  });

  it('uses a fresh data key and nonce for every seal', () => {
    const a = sealValue(keyring, owner, plaintext);
    const b = sealValue(keyring, owner, plaintext);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
    assert.notDeepEqual(a.wrappedKey, b.wrappedKey);
  });

  it('refuses a tampered ciphertext or wrapped key', () => {
    const sealed = sealValue(keyring, owner, plaintext);
    const ciphertext = Buffer.from(sealed.ciphertext);
    ciphertext[ciphertext.length - 20] = (ciphertext[ciphertext.length - 20] ?? 0) ^ 0x01;
    expectCryptoError(() => openValue(keyring, owner, { ...sealed, ciphertext }), 'authentication_failed');
    const wrappedKey = Buffer.from(sealed.wrappedKey);
    wrappedKey[wrappedKey.length - 1] = (wrappedKey[wrappedKey.length - 1] ?? 0) ^ 0x80;
    expectCryptoError(() => openValue(keyring, owner, { ...sealed, wrappedKey }), 'authentication_failed');
  });

  it('refuses a ciphertext copied onto another secret, store, tenant or version', () => {
    const sealed = sealValue(keyring, owner, plaintext);
    for (const other of [
      { ...owner, secretId: 'c'.repeat(32) },
      { ...owner, storeId: 'd'.repeat(32) },
      { ...owner, tenantId: 'other' },
      { ...owner, version: 2 },
    ]) {
      expectCryptoError(() => openValue(keyring, other, sealed), 'authentication_failed');
    }
  });

  it('refuses to open under a keyring without the KEK that sealed it', () => {
    const sealed = sealValue(keyring, owner, plaintext);
    const other = new Keyring([randomBytes(32)]);
    expectCryptoError(() => openValue(other, owner, sealed), 'unknown_kek');
  });

  it('refuses a wrong key presented under the right id', () => {
    const sealed = sealValue(keyring, owner, plaintext);
    const wrongKeyring = new Keyring([randomBytes(32)]);
    const forged = Buffer.from(sealed.wrappedKey);
    // Rewrite the id inside the blob and the column to the wrong keyring's id (same length).
    forged.write(wrongKeyring.active.id, 2, 'ascii');
    expectCryptoError(
      () => openValue(wrongKeyring, owner, { ...sealed, kekId: wrongKeyring.active.id, wrappedKey: forged }),
      'authentication_failed',
    );
  });

  it('refuses an unknown format version', () => {
    const sealed = sealValue(keyring, owner, plaintext);
    const ciphertext = Buffer.from(sealed.ciphertext);
    ciphertext[0] = 0x02;
    expectCryptoError(() => openValue(keyring, owner, { ...sealed, ciphertext }), 'bad_format');
  });

  it('derives a stable, key-dependent KEK id', () => {
    const key = randomBytes(32);
    assert.equal(kekIdFor(key), kekIdFor(Buffer.from(key)));
    assert.notEqual(kekIdFor(key), kekIdFor(randomBytes(32)));
    assert.match(kekIdFor(key), /^k1[0-9a-f]{16}$/);
  });
});

describe('tokens', () => {
  it('are coffer_ + 256 random bits in base62 + a checksum', () => {
    const token = generateToken();
    assert.equal(token.length, TOKEN_LENGTH);
    assert.match(token, /^coffer_[0-9A-Za-z]{49}$/);
    assert.ok(isWellFormedToken(token));
    assert.notEqual(generateToken(), token);
  });

  it('fail the checksum when any character changes', () => {
    const token = generateToken();
    const i = 20;
    const swapped = token.slice(0, i) + (token[i] === 'a' ? 'b' : 'a') + token.slice(i + 1);
    assert.equal(isWellFormedToken(swapped), false);
    assert.equal(isWellFormedToken(`${token}x`), false);
    assert.equal(isWellFormedToken('coffer_'), false);
  });

  it('are stored as SHA-256 only', () => {
    const token = generateToken();
    assert.equal(hashToken(token).length, 32);
    assert.ok(!hashToken(token).toString('latin1').includes(token));
  });
});
