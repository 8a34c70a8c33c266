import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hashToken } from '../../src/crypto/tokens.js';
import { PostgresRepository } from '../../src/storage/postgres/postgres-repository.js';
import { runCoffer, spawnServer } from '../support/coffer-process.js';
import {
  createTestSchema,
  TEST_DATABASE_URL,
  type TestSchema,
  withAdminClient,
} from '../support/postgres-test-schema.js';
import { tempDir } from '../support/temp-dir.js';

const schemas: TestSchema[] = [];
const dirs: { remove(): void }[] = [];
after(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  for (const d of dirs) d.remove();
});

async function setup() {
  const schema = await createTestSchema();
  schemas.push(schema);
  const dir = tempDir();
  dirs.push(dir);
  return { schema, dataDir: dir.path };
}

test('coffer keys create/list work against PostgreSQL (COFFER_DATABASE_URL)', async () => {
  const { schema, dataDir } = await setup();
  const env = { COFFER_DATABASE_URL: schema.url, COFFER_DATA_DIR: dataDir };
  const created = await runCoffer(
    ['keys', 'create', '--tenant', 'acme', '--name', 'ci', '--permission', 'secrets:read'],
    env,
  );
  assert.equal(created.code, 0, created.stderr);
  const lines = created.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, 'the token alone on stdout');
  const token = lines[0] ?? '';

  const listed = await runCoffer(['keys', 'list', '--tenant', 'acme'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^ci\tenabled\t/);
  assert.ok(!listed.stdout.includes(token));

  assert.equal(existsSync(join(dataDir, 'coffer.db')), false, 'no SQLite file');
  assert.equal(existsSync(join(dataDir, 'keyring.json')), true, 'the key file stays in the data directory');
  const repo = await PostgresRepository.connect(schema.url);
  try {
    assert.equal((await repo.findApiKeyByHash(hashToken(token)))?.name, 'ci');
  } finally {
    await repo.close();
  }
});

test('a Unix socket URL as libpq writes it (a user, no host) reaches PostgreSQL', async () => {
  const { schema, dataDir } = await setup();
  const { directory, port } = await withAdminClient(async (c) => ({
    directory: String((await c.query('SHOW unix_socket_directories')).rows[0]?.unix_socket_directories ?? ''),
    port: String((await c.query('SHOW port')).rows[0]?.port ?? ''),
  }));
  const socketDir = directory.split(',')[0]?.trim() ?? '';
  assert.notEqual(socketDir, '', 'the test database listens on a Unix socket');
  const tcp = new URL(TEST_DATABASE_URL);
  const params = new URLSearchParams({ host: socketDir, port, options: `-c search_path=${schema.schema}` });
  const url = `postgresql://${tcp.username}@${tcp.pathname}?${params.toString()}`;
  const created = await runCoffer(
    ['keys', 'create', '--tenant', 'acme', '--name', 'socket', '--permission', 'secrets:read'],
    {
      COFFER_DATABASE_URL: url,
      COFFER_DATA_DIR: dataDir,
    },
  );
  assert.equal(created.code, 0, created.stderr);
  const repo = await PostgresRepository.connect(schema.url);
  try {
    assert.equal((await repo.findApiKeyByHash(hashToken(created.stdout.trim())))?.name, 'socket');
  } finally {
    await repo.close();
  }
});

test('with COFFER_MASTER_KEY the data directory is not even created', async () => {
  const { schema, dataDir } = await setup();
  const missing = join(dataDir, 'not-created');
  const result = await runCoffer(['keys', 'create', '--service', 'workers'], {
    COFFER_DATABASE_URL: schema.url,
    COFFER_DATA_DIR: missing,
    COFFER_MASTER_KEY: randomBytes(32).toString('base64'),
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(existsSync(missing), false);
});

test('an unreachable database is one readable line and exit code 1', async () => {
  const { dataDir } = await setup();
  const result = await runCoffer(['keys', 'list', '--tenant', 'acme'], {
    COFFER_DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/test',
    COFFER_DATA_DIR: dataDir,
  });
  assert.equal(result.code, 1);
  assert.equal(result.stderr, 'coffer: The database cannot be reached; retry later.\n');
});

test('coffer serve on PostgreSQL: bootstraps once and reports ready', async () => {
  const { schema, dataDir } = await setup();
  const server = await spawnServer({ COFFER_DATABASE_URL: schema.url, COFFER_DATA_DIR: dataDir });
  try {
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    const token = /^ {4}(\S+)$/m.exec(server.output())?.[1];
    assert.ok(token, 'the bootstrap token is printed');
    const keys = await fetch(`${server.url}/api/default/admin/apiKeys`, { headers: { 'x-api-key': token } });
    assert.equal(keys.status, 200);
    assert.match(await keys.text(), /"admin"/);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
