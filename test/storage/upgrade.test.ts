import assert from 'node:assert/strict';
import { chmodSync, cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { OPERATOR } from '../../src/core/actor.js';
import type { UpgradeManifest } from '../fixtures/upgrade/make-upgrade-fixtures.js';
import { FIXTURE_SCHEMA } from '../fixtures/upgrade/make-upgrade-fixtures.js';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { createTestSchema, type TestSchema, withAdminClient } from '../support/postgres-test-schema.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * A database written by each earlier schema version (test/fixtures/upgrade/schema-N, made by the
 * code of that version, see test/fixtures/README.md) opened by today's code on both engines: it
 * migrates forward, every value still decrypts, keys still authenticate (and disabled ones stay
 * refused), validity windows are kept, and the audit chains verify across the upgrade.
 */
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/upgrade/', import.meta.url));
const versions = readdirSync(FIXTURES).filter((d) => /^schema-\d+$/.test(d));

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function copyDir(from: string): string {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  cpSync(from, dir.path, { recursive: true });
  // git does not keep file modes: the keyring must be private, as Coffer requires of it.
  chmodSync(dir.path, 0o700);
  chmodSync(join(dir.path, 'keyring.json'), 0o600);
  return dir.path;
}

function manifestOf(dir: string): UpgradeManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as UpgradeManifest;
}

async function loadDump(dumpFile: string): Promise<TestSchema> {
  const schema = await createTestSchema();
  cleanups.push(() => schema.drop());
  // The dump creates its own schema: drop the empty one first, then load under its name.
  const sql = readFileSync(dumpFile, 'utf8').split(FIXTURE_SCHEMA).join(schema.schema);
  await withAdminClient(async (c) => {
    await c.query(`DROP SCHEMA ${schema.schema}`);
    await c.query(sql);
  });
  return schema;
}

async function checkUpgraded(server: TestServer, manifest: UpgradeManifest): Promise<void> {
  const { core } = server.runtime;
  const { tokens } = manifest;

  // Every value of tenant default, as each key sees it; windows are kept and still enforced.
  for (const [name, expected] of Object.entries(manifest.defaultSecrets)) {
    for (const token of [tokens.admin, tokens.reader]) {
      const res = await request(server.url, 'GET', `/api/default/secrets/${name}`, { token });
      if (expected.value === null) assert.equal(res.status, 404, `${name} is outside its window`);
      else {
        assert.equal(res.status, 200, `${name}: ${res.text}`);
        assert.equal(res.text, expected.value);
      }
    }
    const stored = (await core.stores.getByName(OPERATOR, 'default', 'default')) ?? assert.fail('no store');
    const record = await core.secrets.get(OPERATOR, 'default', { id: stored.id }, { name });
    assert.equal(record.notBefore, expected.notBefore, `${name} notBefore`);
    assert.equal(record.expiresOn, expected.expiresOn, `${name} expiresOn`);
    assert.equal(record.latestVersion, expected.latestVersion, `${name} versions`);
  }
  // The quota's count (kept by triggers since migration 8, filled from what was there).
  const acmeCount = Object.keys(manifest.acmePayments).length + Object.keys(manifest.acmeManaged).length;
  assert.equal(
    await server.runtime.repository.countSecretsInTenant('default'),
    Object.keys(manifest.defaultSecrets).length,
  );
  assert.equal(await server.runtime.repository.countSecretsInTenant('acme'), acmeCount);
  const list = await request(server.url, 'GET', '/api/default/secrets', { token: tokens.reader });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json, Object.keys(manifest.defaultSecrets).sort());

  // The disabled key stays refused, exactly like an unknown one.
  const disabled = await request(server.url, 'GET', '/api/default/secrets', { token: tokens.disabled });
  assert.equal(disabled.status, 401);

  // acme's Cloudflare-group key still lists its stores; values of both stores decrypt.
  const stores = await request(server.url, 'GET', '/client/v4/accounts/acme/secrets_store/stores', {
    token: tokens.acmeWriter,
    auth: 'bearer',
  });
  assert.equal(stores.status, 200, stores.text);
  const names = (stores.json as { result: { name: string }[] }).result.map((s) => s.name);
  assert.deepEqual(names, ['payments']);
  const payments = (await core.stores.getByName(OPERATOR, 'acme', 'payments')) ?? assert.fail('no store');
  const paid = await core.secrets.revealMany(OPERATOR, 'acme', { id: payments.id }, null);
  assert.deepEqual(
    Object.fromEntries(paid.secrets.map((s) => [s.name, s.value.toString('utf8')])),
    manifest.acmePayments,
  );

  // The service credential still authenticates and still sees only its managed store.
  const managedList = await request(server.url, 'GET', '/client/v4/system/accounts/acme/stores', {
    token: tokens.service,
    auth: 'bearer',
  });
  assert.equal(managedList.status, 200, managedList.text);
  const managed = (managedList.json as { result: { id: string; name: string }[] }).result;
  assert.deepEqual(
    managed.map((s) => s.name),
    ['managed'],
  );
  const managedId = managed[0]?.id ?? '';
  const asService = { kind: 'service', serviceName: 'payments-svc' } as const;
  const opened = await core.secrets.revealMany(asService, 'acme', { id: managedId }, null).catch(() => null);
  // A service may not reveal (no secrets:reveal); the operator may.
  assert.equal(opened, null);
  const byOperator = await core.secrets.revealMany(OPERATOR, 'acme', { id: managedId }, null);
  assert.deepEqual(
    Object.fromEntries(byOperator.secrets.map((s) => [s.name, s.value.toString('utf8')])),
    manifest.acmeManaged,
  );

  // New writes land on chains of this process (ADR 0011); the old chains stay as they were.
  const put = await request(server.url, 'PUT', '/api/default/secrets/DB_PASSWORD', {
    token: tokens.admin,
    body: { value: 'db-v4' },
  });
  assert.equal(put.status, 204, put.text);
  const after = await request(server.url, 'GET', '/api/default/secrets/DB_PASSWORD', { token: tokens.admin });
  assert.equal(after.text, 'db-v4');
}

/**
 * The trail verifies; returns its summary line per chain (schema-2's: one per tenant and the
 * platform's, named by tenant id; later ones: chains per writer), so that the caller can see that
 * today's code did not change them.
 */
function verifiedChains(result: { code: number | null; stdout: string; stderr: string }): string[] {
  assert.equal(result.code, 0, result.stderr);
  const count = /^Audit trail verified: (\d+) chain\(s\), \d+ event\(s\)\./.exec(result.stdout);
  assert.ok(count, result.stdout);
  const chains = result.stdout
    .split('\n')
    .filter((l) => /^ {2}(tenant '[^']+'|the platform)[^:]*: seq \d+/.test(l));
  assert.equal(chains.length, Number(count[1]), result.stdout);
  assert.ok(
    chains.some((l) => l.startsWith("  tenant 'default'")),
    result.stdout,
  );
  assert.ok(
    chains.some((l) => l.startsWith("  tenant 'acme'")),
    result.stdout,
  );
  return chains;
}

/** After the server ran: the old chains unchanged, and new chains (of its writer) beside them. */
function assertVerifiedAfter(
  result: { code: number | null; stdout: string; stderr: string },
  before: string[],
): void {
  const chains = verifiedChains(result);
  for (const old of before) assert.ok(chains.includes(old), `changed or gone: ${old}\n${result.stdout}`);
  const added = chains.filter((l) => !before.includes(l));
  assert.ok(
    added.some((l) => /^ {2}tenant 'default', chain [0-9a-f]{24}\/c\/default: seq \d+/.test(l)),
    result.stdout,
  );
  assert.ok(
    added.some((l) => /^ {2}tenant 'default', chain [0-9a-f]{24}\/r\/default: seq \d+/.test(l)),
    result.stdout,
  );
}

/** The wrapped data keys a SQLite data directory holds, whichever layout its schema has. */
function wrappedKeysOf(dataDir: string): Buffer[] {
  const db = new Database(join(dataDir, 'coffer.db'), { readonly: true, fileMustExist: true });
  try {
    const view = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sealed_versions'").get();
    const table = view === undefined ? 'secret_versions' : 'sealed_versions';
    return db.prepare(`SELECT wrapped_key FROM ${table}`).pluck().all() as Buffer[];
  } finally {
    db.close();
  }
}

/**
 * docs/adr/0008: once migrated, each wrapped key is in the database file exactly once (its key slot),
 * so no copy of the old layout's rows is left in free space. Checkpointed first, WAL cut.
 */
function assertEachKeyOnce(dataDir: string, keys: readonly Buffer[]): void {
  const path = join(dataDir, 'coffer.db');
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  const file = readFileSync(path);
  for (const key of keys) {
    let copies = 0;
    for (let at = file.indexOf(key); at !== -1; at = file.indexOf(key, at + 1)) copies += 1;
    assert.equal(copies, 1, `copies of a wrapped key in ${path}`);
  }
}

for (const version of versions) {
  describe(`upgrade from ${version}`, () => {
    it('SQLite: the data directory opens, migrates and serves what it held', async () => {
      const dataDir = copyDir(join(FIXTURES, version, 'sqlite'));
      const manifest = manifestOf(dataDir);
      const keys = wrappedKeysOf(dataDir);
      assert.ok(keys.length > 0);
      // The old trail verifies before today's code has written to it (migrated, it is unchanged)…
      const legacy = verifiedChains(await runCoffer(['audit', 'verify'], { COFFER_DATA_DIR: dataDir }));
      const server = await startTestServer({ dataDir });
      try {
        assert.equal(server.adminToken, '', 'no second bootstrap key on a database that has keys');
        await checkUpgraded(server, manifest);
      } finally {
        await server.close({ keepData: true });
      }
      // …and after, with the events written since on new chains.
      assertVerifiedAfter(await runCoffer(['audit', 'verify'], { COFFER_DATA_DIR: dataDir }), legacy);
      assertEachKeyOnce(dataDir, keys);
    });

    it('PostgreSQL: the dump loads, migrates and serves what it held', async () => {
      const fixture = join(FIXTURES, version, 'postgres');
      const dataDir = copyDir(fixture);
      const manifest = manifestOf(dataDir);
      const schema = await loadDump(join(fixture, 'dump.sql'));
      const env = { COFFER_DATABASE_URL: schema.url, COFFER_DATA_DIR: dataDir };
      const legacy = verifiedChains(await runCoffer(['audit', 'verify'], env));
      const server = await startTestServer({ dataDir, env: { COFFER_DATABASE_URL: schema.url } });
      try {
        assert.equal(server.adminToken, '', 'no second bootstrap key on a database that has keys');
        await checkUpgraded(server, manifest);
      } finally {
        await server.close({ keepData: true });
      }
      assertVerifiedAfter(await runCoffer(['audit', 'verify'], env), legacy);
    });
  });
}

it('there is a fixture for every earlier schema version', () => {
  // schema-2 is the first with data worth upgrading (1 had no audit trail and was never released alone);
  // schema-7 is what the last release before migration 8 wrote.
  // schema-8 is what the last release before SQLite's migration 9 (key slots) wrote.
  for (const needed of ['schema-2', 'schema-7', 'schema-8']) {
    assert.ok(versions.includes(needed), `fixtures found: ${versions.join(', ')}`);
  }
});
