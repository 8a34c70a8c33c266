import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 2: a key that may only write values plants variables that make `coffer run`'s
 * command run the attacker's code (NODE_OPTIONS, LD_PRELOAD, PATH, BASH_ENV, …).
 */
const NODE = process.execPath;
const MARKER = 'PLANTED-CODE-RAN-5d1e';
const PLANTED = {
  NODE_OPTIONS: `--import=data:text/javascript,process.stdout.write(%22${MARKER}%22)`,
  LD_PRELOAD: '/tmp/evil-5d1e.so',
  PATH: '/tmp/evil-bin-5d1e',
  BASH_ENV: '/tmp/evil-bashrc-5d1e',
  PYTHONPATH: '/tmp/evil-py-5d1e',
  npm_config_script_shell: '/tmp/evil-sh-5d1e',
  COFFER_URL: 'http://attacker.invalid',
  SHARED_NAME: 'from-the-secret-5d1e',
  PLAIN_SECRET: 'plain-value-5d1e',
};

/** A child that prints its whole environment as JSON. */
const PRINT_ENV = [NODE, '-e', 'process.stdout.write(JSON.stringify(process.env))'];

describe('security: coffer run never lets a secret choose what the command runs', () => {
  let server: TestServer;
  let local: Record<string, string>;
  let remote: Record<string, string>;

  before(async () => {
    server = await startTestServer();
    // Only "Secrets Store Write": may set values, nothing more.
    const writer = await server.createKey('default', 'writer', ['Secrets Store Write']);
    for (const [name, value] of Object.entries(PLANTED)) {
      const res = await request(server.url, 'PUT', `/api/default/secrets/${name}`, {
        token: writer,
        body: { value },
      });
      assert.equal(res.status, 204, `planting ${name}: ${res.text}`);
    }
    // Coffer's own configuration, as a CI job or a developer's shell would hold it.
    const cofferOwn = {
      COFFER_METRICS_TOKEN: 'metrics-token-5d1e',
      COFFER_OIDC_ISSUER: 'https://issuer.invalid',
      COFFER_OIDC_AUDIENCE: 'coffer-5d1e',
      COFFER_AUTH_FAILURE_LIMIT: '5',
    };
    local = {
      ...cofferOwn,
      COFFER_DATA_DIR: server.dataDir,
      COFFER_KEYRING_FILE: join(server.dataDir, 'keyring.json'),
      // The local run opens the server's own database, on either engine.
      ...(server.databaseUrl === null ? {} : { COFFER_DATABASE_URL: server.databaseUrl }),
      SHARED_NAME: 'inherited-5d1e',
    };
    remote = {
      ...cofferOwn,
      COFFER_URL: server.url,
      COFFER_TOKEN: server.adminToken,
      COFFER_DATA_DIR: '/nonexistent/coffer',
      COFFER_DATABASE_URL: 'postgres://user:password-5d1e@db.invalid/coffer',
      COFFER_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      SHARED_NAME: 'inherited-5d1e',
    };
  });
  after(() => server.close());

  for (const mode of ['local', 'remote'] as const) {
    const envOf = () => (mode === 'local' ? local : remote);

    it(`${mode}: a planted NODE_OPTIONS does not execute, and is named on stderr without its value`, async () => {
      const res = await runCoffer(
        ['run', '--tenant', 'default', '--store', 'default', '--', NODE, '-e', 'process.stdout.write("app")'],
        envOf(),
      );
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, 'app', 'the planted code did not run');
      assert.match(res.stderr, /NODE_OPTIONS/);
      for (const value of Object.values(PLANTED))
        assert.ok(!res.stderr.includes(value), 'no value on stderr');
    });

    it(`${mode}: loader, shell, PATH, runtime and COFFER_* secrets are withheld and named; the inherited PATH stays`, async () => {
      const res = await runCoffer(
        ['run', '--tenant', 'default', '--store', 'default', '--', ...PRINT_ENV],
        envOf(),
      );
      assert.equal(res.code, 0, res.stderr);
      const env = JSON.parse(res.stdout) as Record<string, string>;
      for (const name of [
        'NODE_OPTIONS',
        'LD_PRELOAD',
        'BASH_ENV',
        'PYTHONPATH',
        'npm_config_script_shell',
        'COFFER_URL',
      ]) {
        assert.equal(env[name], undefined, `${name} must not reach the command`);
        assert.match(res.stderr, new RegExp(`\\b${name}\\b`), `${name} is named on stderr`);
      }
      assert.equal(env.PATH, process.env.PATH ?? '', 'PATH is the inherited one, not the secret');
      assert.match(res.stderr, /\bPATH\b/);
      assert.equal(env.PLAIN_SECRET, PLANTED.PLAIN_SECRET, 'ordinary secrets still arrive');
    });

    it(`${mode}: no COFFER_* variable of coffer's own environment reaches the command`, async () => {
      const res = await runCoffer(
        ['run', '--tenant', 'default', '--store', 'default', '--', ...PRINT_ENV],
        envOf(),
      );
      assert.equal(res.code, 0, res.stderr);
      const env = JSON.parse(res.stdout) as Record<string, string>;
      const leaked = Object.keys(env).filter((k) => k.toUpperCase().startsWith('COFFER'));
      assert.deepEqual(leaked, []);
    });

    it(`${mode}: a secret wins over an inherited variable of the same name`, async () => {
      const res = await runCoffer(
        ['run', '--tenant', 'default', '--store', 'default', '--', ...PRINT_ENV],
        envOf(),
      );
      assert.equal(res.code, 0, res.stderr);
      const env = JSON.parse(res.stdout) as Record<string, string>;
      assert.equal(env.SHARED_NAME, PLANTED.SHARED_NAME);
    });

    it(`${mode}: --allow-env NAME lets exactly that one through`, async () => {
      const res = await runCoffer(
        [
          'run',
          '--tenant',
          'default',
          '--store',
          'default',
          '--allow-env',
          'NODE_OPTIONS',
          '--allow-env',
          'COFFER_URL',
          '--',
          NODE,
          '-e',
          'process.stdout.write(JSON.stringify([process.env.COFFER_URL ?? null, process.env.LD_PRELOAD ?? null]))',
        ],
        envOf(),
      );
      assert.equal(res.code, 0, res.stderr);
      assert.ok(res.stdout.startsWith(MARKER), 'NODE_OPTIONS was let through, as asked');
      assert.deepEqual(JSON.parse(res.stdout.slice(MARKER.length)), [PLANTED.COFFER_URL, null]);
      assert.doesNotMatch(res.stderr, /NODE_OPTIONS/);
      assert.match(res.stderr, /LD_PRELOAD/);
    });
  }
});
