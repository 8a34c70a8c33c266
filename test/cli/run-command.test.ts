import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { COFFER_BIN, runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const NODE = process.execPath;
/** A child that prints the named environment variables as JSON. */
const printEnv = (...names: string[]) => [
  NODE,
  '-e',
  `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`,
];

const DB_URL = 'postgres://run-test-7f3a@db/app';
const API_KEY = 'api-key-run-test-91b2';

describe('coffer run', () => {
  let server: TestServer;
  let local: Record<string, string>;
  let remote: (token: string) => Record<string, string>;
  let revealOnly: string;
  let readOnly: string;

  before(async () => {
    server = await startTestServer();
    const put = (store: string, name: string, value: string) =>
      request(server.url, 'PUT', `/v1/tenants/default/stores/${store}/secrets/${name}`, {
        token: server.adminToken,
        body: { value },
      });
    await request(server.url, 'POST', '/v1/tenants/default/stores', {
      token: server.adminToken,
      body: { name: 'app' },
    });
    await put('app', 'DB_URL', DB_URL);
    await put('app', 'API_KEY', API_KEY);
    await put('app', 'not-an-env-name', 'hidden-value-0c1d');
    // An envs store, declared and set through the envs API.
    const envs = (method: string, path: string, body: unknown) =>
      request(server.url, method, path, { token: server.adminToken, auth: 'bearer', body });
    await envs('POST', '/default/web/envs/dev/secrets', { kind: 'Secret', name: 'ENVS_SECRET' });
    await envs('PUT', '/default/web/envs/dev/secrets/ENVS_SECRET/value', { value: 'from-envs-4e2a' });
    local = { COFFER_DATA_DIR: server.dataDir };
    remote = (token) => ({
      COFFER_URL: server.url,
      COFFER_TOKEN: token,
      COFFER_DATA_DIR: '/nonexistent/coffer',
    });
    revealOnly = await server.createKey('default', 'ci', ['secrets:reveal']);
    readOnly = await server.createKey('default', 'reader', ['secrets:read']);
  });
  after(() => server.close());

  for (const mode of ['local', 'remote'] as const) {
    it(`${mode}: starts the command with every secret as an environment variable; values never reach coffer's own output`, async () => {
      const env = mode === 'local' ? local : remote(server.adminToken);
      const res = await runCoffer(
        [
          'run',
          '--tenant',
          'default',
          '--store',
          'app',
          '--',
          ...printEnv('DB_URL', 'API_KEY', 'COFFER_TOKEN'),
        ],
        env,
      );
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(res.stdout), { DB_URL, API_KEY, COFFER_TOKEN: null });
      assert.match(res.stderr, /not-an-env-name/, 'a skipped name is named');
      for (const value of [DB_URL, API_KEY, 'hidden-value-0c1d']) assert.ok(!res.stderr.includes(value));
    });

    it(`${mode}: --only selects secrets; a missing one fails before the command starts`, async () => {
      const env = mode === 'local' ? local : remote(revealOnly);
      const res = await runCoffer(
        [
          'run',
          '--tenant',
          'default',
          '--store',
          'app',
          '--only',
          'API_KEY',
          '--',
          ...printEnv('DB_URL', 'API_KEY'),
        ],
        env,
      );
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(res.stdout), { DB_URL: null, API_KEY });
      const missing = await runCoffer(
        [
          'run',
          '--tenant',
          'default',
          '--store',
          'app',
          '--only',
          'API_KEY',
          '--only',
          'GHOST',
          '--',
          NODE,
          '-e',
          'process.stdout.write("started")',
        ],
        env,
      );
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, '');
      assert.match(missing.stderr, /GHOST/);
    });

    it(`${mode}: --env ORG/PROJECT/ENV reads the envs store`, async () => {
      const env = mode === 'local' ? local : remote(server.adminToken);
      const res = await runCoffer(['run', '--env', 'default/web/dev', '--', ...printEnv('ENVS_SECRET')], env);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(res.stdout), { ENVS_SECRET: 'from-envs-4e2a' });
    });

    it(`${mode}: passes the exit code through, and 128+n for a signal`, async () => {
      const env = mode === 'local' ? local : remote(server.adminToken);
      const args = ['run', '--tenant', 'default', '--store', 'app', '--'];
      assert.equal((await runCoffer([...args, NODE, '-e', 'process.exit(7)'], env)).code, 7);
      assert.equal(
        (await runCoffer([...args, NODE, '-e', 'process.kill(process.pid, "SIGKILL")'], env)).code,
        137,
      );
    });
  }

  it('forwards SIGTERM to the command and exits with its code (42)', async () => {
    const child = spawn(
      NODE,
      [
        COFFER_BIN,
        'run',
        '--tenant',
        'default',
        '--store',
        'app',
        '--',
        NODE,
        '-e',
        'process.on("SIGTERM", () => process.exit(42)); process.stdout.write("ready\\n"); setInterval(() => {}, 1000);',
      ],
      { env: { PATH: process.env.PATH ?? '', ...local }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const code = await new Promise<number | null>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        if (out.includes('ready')) child.kill('SIGTERM');
      });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c));
    });
    assert.equal(code, 42);
  });

  it('refuses what it cannot do: no reveal permission, unknown store, no command, unknown program, no data', async () => {
    const denied = await runCoffer(
      ['run', '--tenant', 'default', '--store', 'app', '--', NODE, '-e', '0'],
      remote(readOnly),
    );
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /403/);
    const allNeedsRead = await runCoffer(
      ['run', '--tenant', 'default', '--store', 'app', '--', NODE, '-e', '0'],
      remote(revealOnly),
    );
    assert.equal(allNeedsRead.code, 1, 'revealing every secret also needs secrets:read');
    const unknownStore = await runCoffer(
      ['run', '--tenant', 'default', '--store', 'nope', '--', NODE, '-e', '0'],
      local,
    );
    assert.equal(unknownStore.code, 1);
    // Names what is missing and the command that creates it.
    assert.match(
      unknownStore.stderr,
      /store 'nope' of tenant 'default' does not exist.*`coffer secrets set NAME --tenant default --store nope -`/,
    );
    assert.equal((await runCoffer(['run', '--tenant', 'default', '--store', 'app'], local)).code, 2);
    assert.equal((await runCoffer(['run', '--tenant', 'default', '--', NODE], local)).code, 2);
    assert.equal((await runCoffer(['run', '--env', 'a/b', '--', NODE], local)).code, 2);
    assert.equal(
      (await runCoffer(['run', '--tenant', 'default', '--store', 'app', '--', 'no-such-program-x1'], local))
        .code,
      127,
    );
    const noData = await runCoffer(['run', '--tenant', 'default', '--store', 'app', '--', NODE, '-e', '0'], {
      COFFER_DATA_DIR: '/nonexistent/coffer-data',
    });
    assert.equal(noData.code, 1);
    assert.match(noData.stderr, /no Coffer data/);
  });
});
