import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/** A child that prints the named variable, or `unset`. */
const printVar = (name: string) => [
  process.execPath,
  '-e',
  `process.stdout.write(process.env.${name} ?? 'unset')`,
];

describe('coffer login and coffer setup', () => {
  let server: TestServer;
  let home: { path: string; remove(): void };
  let project: string;
  let deployer: string;
  /** No COFFER_* at all: what comes from the files alone. */
  let bare: Record<string, string>;

  before(async () => {
    server = await startTestServer();
    home = tempDir('coffer-home-');
    project = join(home.path, 'project');
    mkdirSync(join(project, 'src', 'deep'), { recursive: true });
    bare = { HOME: home.path, XDG_CONFIG_HOME: join(home.path, 'config') };
    deployer = await server.createKey('acme', 'deployer', ['Secret.Read', 'Secret.Write']);
    const put = (store: string, name: string, value: string) =>
      request(server.url, 'PUT', `/v1/tenants/acme/stores/${encodeURIComponent(store)}/secrets/${name}`, {
        token: deployer,
        auth: 'bearer',
        body: { value },
      });
    for (const store of ['web/production', 'web/staging']) {
      const created = await request(server.url, 'POST', '/v1/tenants/acme/stores', {
        token: deployer,
        auth: 'bearer',
        body: { name: store },
      });
      assert.equal(created.status, 201, created.text);
    }
    assert.equal((await put('web/production', 'DATABASE_URL', 'postgres://prod-6b1f')).status, 201);
    assert.equal((await put('web/staging', 'DATABASE_URL', 'postgres://staging-2e7a')).status, 201);
  });
  after(async () => {
    await server.close();
    home.remove();
  });

  it('login reads the token from stdin (never argv), checks the server answers, and saves it 0600', async () => {
    const res = await runCoffer(['login', '--url', server.url, '--tenant', 'acme'], bare, {
      input: `${deployer}\n`,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(!res.stderr.includes(deployer) && !res.stdout.includes(deployer), 'the token is never printed');
    const file = join(home.path, 'config', 'coffer', 'login.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(home.path, 'config', 'coffer')).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      url: server.url,
      token: deployer,
      tenant: 'acme',
    });
    // There is no option to pass a token on the command line.
    const argvToken = await runCoffer(['login', '--url', server.url, '--token', deployer], bare);
    assert.equal(argvToken.code, 2);
    // A server that is not there is refused, and nothing is saved over the good login.
    const down = await runCoffer(['login', '--url', 'http://127.0.0.1:3', '--tenant', 'x'], bare, {
      input: 'tok',
    });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach Coffer at http:\/\/127\.0\.0\.1:3/);
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { token: string }).token, deployer);
  });

  it('setup binds a directory (found from below); then `coffer run -- cmd` needs no flags', async () => {
    const setup = await runCoffer(['setup', '--env', 'acme/web/production'], bare, { cwd: project });
    assert.equal(setup.code, 0, setup.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(project, '.coffer.json'), 'utf8')), {
      tenant: 'acme',
      store: 'web/production',
    });
    const run = await runCoffer(['run', '--', ...printVar('DATABASE_URL')], bare, {
      cwd: join(project, 'src', 'deep'),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'postgres://prod-6b1f');
    const list = await runCoffer(['secrets', 'list'], bare, { cwd: project });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^DATABASE_URL\tv1\t/);
  });

  it('precedence: flags, then environment, then the directory binding, then the login file', async () => {
    const cwd = project;
    // Flags beat the environment and the binding.
    const flag = await runCoffer(
      ['run', '--store', 'web/staging', '--', ...printVar('DATABASE_URL')],
      { ...bare, COFFER_STORE: 'web/production' },
      { cwd },
    );
    assert.equal(flag.stdout, 'postgres://staging-2e7a', flag.stderr);
    // The environment beats the binding.
    const fromEnv = await runCoffer(
      ['run', '--', ...printVar('DATABASE_URL')],
      { ...bare, COFFER_STORE: 'web/staging' },
      { cwd },
    );
    assert.equal(fromEnv.stdout, 'postgres://staging-2e7a', fromEnv.stderr);
    // The environment's server beats the login file's: a wrong token there is used, and refused.
    const envServer = await runCoffer(
      ['run', '--', ...printVar('DATABASE_URL')],
      { ...bare, COFFER_URL: server.url, COFFER_TOKEN: 'coffer_not-a-real-token' },
      { cwd },
    );
    assert.equal(envServer.code, 1);
    assert.match(envServer.stderr, /HTTP 401/);
    // COFFER_DATA_DIR (environment) beats the login file: local, on the server's data directory.
    const localDir = await runCoffer(
      ['run', '--', ...printVar('DATABASE_URL')],
      { ...bare, COFFER_DATA_DIR: server.dataDir },
      { cwd },
    );
    assert.equal(localDir.stdout, 'postgres://prod-6b1f', localDir.stderr);
    // Outside the bound directory, the login file's tenant is used; the store must then be given.
    const noBinding = await runCoffer(['run', '--', ...printVar('DATABASE_URL')], bare, { cwd: home.path });
    assert.equal(noBinding.code, 2);
    assert.match(noBinding.stderr, /--store is required: .*coffer setup/);
    const loginTenant = await runCoffer(
      ['run', '--store', 'web/staging', '--', ...printVar('DATABASE_URL')],
      bare,
      { cwd: home.path },
    );
    assert.equal(loginTenant.stdout, 'postgres://staging-2e7a', loginTenant.stderr);
    // A URL other than the login's needs its own token.
    const otherUrl = await runCoffer(['secrets', 'list', '--url', 'http://127.0.0.1:4'], bare, { cwd });
    assert.equal(otherUrl.code, 1);
    assert.match(
      otherUrl.stderr,
      /no token for http:\/\/127\.0\.0\.1:4: set COFFER_TOKEN, or run `coffer login/,
    );
  });

  it('a login file others may read is refused; logout removes it', async () => {
    const file = join(home.path, 'config', 'coffer', 'login.json');
    const loose = tempDir('coffer-loose-');
    try {
      const looseFile = join(loose.path, 'coffer', 'login.json');
      mkdirSync(join(loose.path, 'coffer'));
      writeFileSync(looseFile, JSON.stringify({ url: server.url, token: deployer }), { mode: 0o644 });
      const refused = await runCoffer(['secrets', 'list', '--tenant', 'acme', '--store', 'web/production'], {
        HOME: loose.path,
        XDG_CONFIG_HOME: loose.path,
      });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /others may read it \(mode 644\): run `chmod 600/);
    } finally {
      loose.remove();
    }
    const out = await runCoffer(['logout'], bare);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(!existsSync(file));
  });
});
