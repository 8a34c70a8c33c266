import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config.js';

test('COFFER_DATABASE_URL: absent means SQLite', () => {
  assert.equal(parseConfig({}).databaseUrl, null);
  assert.equal(parseConfig({ COFFER_DATABASE_URL: '  ' }).databaseUrl, null);
});

test('COFFER_DATABASE_URL: postgres:// and postgresql:// URLs are accepted as given', () => {
  for (const url of [
    'postgres://coffer:pw@db.internal:5432/coffer',
    'postgresql://coffer@127.0.0.1/coffer?sslmode=require',
    // Unix sockets, as libpq and node-postgres write them: with a user and no host, and without either.
    'postgresql://coffer@/coffer?host=/var/run/postgresql',
    'postgres://coffer:pw@/coffer?host=/tmp',
    'postgresql:///coffer?host=/var/run/postgresql',
  ]) {
    assert.equal(parseConfig({ COFFER_DATABASE_URL: url }).databaseUrl, url);
  }
});

test('COFFER_DATABASE_URL: anything else is a one-line ConfigError that never echoes the value', () => {
  for (const url of [
    'mysql://root:s3cret@db/coffer',
    'mysql://root:s3cret@/coffer',
    'sqlite:///tmp/x.db',
    'not a url s3cret',
    'postgres',
  ]) {
    assert.throws(
      () => parseConfig({ COFFER_DATABASE_URL: url }),
      (error) =>
        error instanceof ConfigError &&
        error.message === 'COFFER_DATABASE_URL must be a postgres:// or postgresql:// URL.' &&
        !error.message.includes('s3cret'),
    );
  }
});
