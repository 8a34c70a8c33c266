import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  BANNER_PATTERN,
  runCoffer,
  spawnServer,
  stopServer,
  TOKEN_PATTERN,
} from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';

const dirs: { remove(): void }[] = [];
function newDataDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir.path;
}
after(() => {
  for (const d of dirs) d.remove();
});

describe('coffer serve', () => {
  it('bootstraps one admin token on an empty directory, none on the next start; data survives a restart', async () => {
    const dataDir = newDataDir();
    const first = await spawnServer({ COFFER_DATA_DIR: dataDir });
    // One token, printed only inside the banner (there twice: on its own and in `export COFFER_TOKEN=`).
    const banner = BANNER_PATTERN.exec(first.output())?.[0] ?? '';
    const printed = new Set(banner.match(TOKEN_PATTERN) ?? []);
    assert.equal(printed.size, 1, first.output());
    const token = [...printed][0] ?? '';
    assert.equal(
      (
        await request(first.url, 'PUT', '/api/default/secrets/persisted', {
          token,
          body: { value: 'still here ✓' },
        })
      ).status,
      204,
    );
    assert.equal(await stopServer(first), 0, 'SIGTERM exits 0');
    // Logs carry no token: outside the banner, none at all.
    assert.equal((first.output().replace(BANNER_PATTERN, '').match(TOKEN_PATTERN) ?? []).length, 0);

    const second = await spawnServer({ COFFER_DATA_DIR: dataDir });
    assert.equal((second.output().match(TOKEN_PATTERN) ?? []).length, 0, 'no token on the second start');
    const get = await request(second.url, 'GET', '/api/default/secrets/persisted', { token });
    assert.equal(get.text, 'still here ✓');
    assert.equal(await stopServer(second), 0);
  });

  it('never logs a value, a token or a credential header, even at trace level', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer({ COFFER_DATA_DIR: dataDir, LOG_LEVEL: 'trace' });
    const token = (server.output().match(TOKEN_PATTERN) ?? [])[0] ?? '';
    assert.match(token, /^coffer_[0-9A-Za-z]{49}$/);
    const value = 'log-canary-value-91c2';
    await request(server.url, 'PUT', '/api/default/secrets/canary', { token, body: { value } });
    await request(server.url, 'GET', '/api/default/secrets/canary', { token, auth: 'bearer' });
    await request(server.url, 'PUT', '/api/default/secrets/canary', {
      token,
      body: `{"value":"${value}"`,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(await stopServer(server), 0);
    const logs = server.output().replace(/={78}[\s\S]*?={78}/, '');
    assert.ok(logs.includes('request completed'), 'per-request logs were written');
    assert.ok(!logs.includes(value), 'value in logs');
    assert.ok(!logs.includes(token), 'token in logs');
  });

  it('finishes in-flight requests on SIGTERM', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer({ COFFER_DATA_DIR: dataDir });
    const token = (server.output().match(TOKEN_PATTERN) ?? [])[0] ?? '';
    const writes = Array.from({ length: 20 }, (_, i) =>
      request(server.url, 'PUT', `/api/default/secrets/inflight-${i}`, { token, body: { value: `v${i}` } }),
    );
    await new Promise((r) => setTimeout(r, 5));
    server.child.kill('SIGTERM');
    const results = await Promise.allSettled(writes);
    assert.equal(await server.exited, 0);
    const acknowledged = results.flatMap((r, i) =>
      r.status === 'fulfilled' && r.value.status === 204 ? [i] : [],
    );
    const restarted = await spawnServer({ COFFER_DATA_DIR: dataDir });
    for (const i of acknowledged) {
      assert.equal(
        (await request(restarted.url, 'GET', `/api/default/secrets/inflight-${i}`, { token })).text,
        `v${i}`,
      );
    }
    assert.equal(await stopServer(restarted), 0);
  });

  it('exits with a one-line reason on invalid configuration', async () => {
    const cases: Record<string, string>[] = [
      { PORT: 'eighty' },
      { PORT: '70000' },
      { LOG_LEVEL: 'loud' },
      { COFFER_MASTER_KEY: 'too-short' },
      { COFFER_MASTER_KEY: randomBytes(31).toString('base64') },
    ];
    for (const env of cases) {
      const res = await runCoffer(['serve'], { COFFER_DATA_DIR: newDataDir(), ...env });
      assert.equal(res.code, 1, JSON.stringify(env));
      const lines = res.stderr.trim().split('\n');
      assert.equal(lines.length, 1, res.stderr);
      assert.match(lines[0] ?? '', /^coffer: /);
      if (env.COFFER_MASTER_KEY)
        assert.ok(!res.stderr.includes(env.COFFER_MASTER_KEY), 'key material echoed');
    }
  });
});

describe('master key handling', () => {
  it('creates a 0600 key file on first use and refuses to replace a missing one over existing data', async () => {
    const dataDir = newDataDir();
    const token = (
      await runCoffer(['keys', 'create', '--tenant', 't1', '--name', 'k', '--permission', '*'], {
        COFFER_DATA_DIR: dataDir,
      })
    ).stdout.trim();
    const keyFile = join(dataDir, 'keyring.json');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'coffer.db')).mode & 0o077, 0, 'database not readable by others');
    const server = await spawnServer({ COFFER_DATA_DIR: dataDir });
    await request(server.url, 'PUT', '/api/t1/secrets/sealed', { token, body: { value: 'x' } });
    assert.equal(await stopServer(server), 0);

    const saved = readFileSync(keyFile);
    writeFileSync(`${keyFile}.bak`, saved);
    const { rmSync } = await import('node:fs');
    rmSync(keyFile);
    const missing = await runCoffer(['serve'], { COFFER_DATA_DIR: dataDir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no master key/);
    assert.throws(() => statSync(keyFile), 'no new key file was created');

    const wrong = await runCoffer(['serve'], {
      COFFER_DATA_DIR: dataDir,
      COFFER_MASTER_KEY: randomBytes(32).toString('base64'),
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /does not match/);

    writeFileSync(keyFile, saved, { mode: 0o600 });
    const restored = await spawnServer({ COFFER_DATA_DIR: dataDir });
    assert.equal((await request(restored.url, 'GET', '/api/t1/secrets/sealed', { token })).text, 'x');
    assert.equal(await stopServer(restored), 0);
  });

  it('COFFER_MASTER_KEY is used instead of a key file', async () => {
    const dataDir = newDataDir();
    const masterKey = randomBytes(32).toString('base64');
    const env = { COFFER_DATA_DIR: dataDir, COFFER_MASTER_KEY: masterKey };
    const token = (
      await runCoffer(['keys', 'create', '--tenant', 'mk', '--name', 'k', '--permission', '*'], env)
    ).stdout.trim();
    assert.ok(!readdirSync(dataDir).includes('keyring.json'));
    const server = await spawnServer(env);
    await request(server.url, 'PUT', '/api/mk/secrets/s', { token, body: { value: 'with env key' } });
    assert.equal(await stopServer(server), 0);
    const again = await spawnServer(env);
    assert.equal((await request(again.url, 'GET', '/api/mk/secrets/s', { token })).text, 'with env key');
    assert.equal(await stopServer(again), 0);
  });
});

describe('coffer keys', () => {
  it('create prints only the token; list, disable, enable and delete act on a running server at once', async () => {
    const dataDir = newDataDir();
    const env = { COFFER_DATA_DIR: dataDir };
    const server = await spawnServer(env);
    const created = await runCoffer(
      [
        'keys',
        'create',
        '--tenant',
        'acme',
        '--name',
        'deployer',
        '--permission',
        'Secret.Read',
        '--permission',
        'secrets:write',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^coffer_[0-9A-Za-z]{49}\n$/);
    const token = created.stdout.trim();
    assert.equal((await request(server.url, 'GET', '/api/acme/secrets', { token })).status, 200);

    const list = await runCoffer(['keys', 'list', '--tenant', 'acme'], env);
    assert.match(list.stdout, /^deployer\tenabled\tcoffer_\w{4}…\tSecret\.Read,secrets:write\n$/);
    assert.ok(!list.stdout.includes(token));

    assert.equal(
      (await runCoffer(['keys', 'disable', '--tenant', 'acme', '--name', 'deployer'], env)).code,
      0,
    );
    assert.equal((await request(server.url, 'GET', '/api/acme/secrets', { token })).status, 401);
    assert.equal(
      (await runCoffer(['keys', 'enable', '--tenant', 'acme', '--name', 'deployer'], env)).code,
      0,
    );
    assert.equal((await request(server.url, 'GET', '/api/acme/secrets', { token })).status, 200);
    assert.equal(
      (await runCoffer(['keys', 'delete', '--tenant', 'acme', '--name', 'deployer'], env)).code,
      0,
    );
    assert.equal((await request(server.url, 'GET', '/api/acme/secrets', { token })).status, 401);
    assert.equal(await stopServer(server), 0);
  });

  it('refuses bad input with a clear message and a non-zero exit', async () => {
    const env = { COFFER_DATA_DIR: newDataDir() };
    const unknown = await runCoffer(
      ['keys', 'create', '--tenant', 'a', '--name', 'k', '--permission', 'root'],
      env,
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Unknown permission: "root"\. Known: .*Secret\.Read/);
    assert.equal(unknown.stdout, '');
    const noPerm = await runCoffer(['keys', 'create', '--tenant', 'a', '--name', 'k'], env);
    assert.equal(noPerm.code, 2);
    const badTenant = await runCoffer(
      ['keys', 'create', '--tenant=-bad!', '--name', 'k', '--permission', '*'],
      env,
    );
    assert.equal(badTenant.code, 1);
    const dup = ['keys', 'create', '--tenant', 'a', '--name', 'k', '--permission', '*'];
    assert.equal((await runCoffer(dup, env)).code, 0);
    const again = await runCoffer(dup, env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.equal((await runCoffer(['frobnicate'], env)).code, 2);
    assert.equal((await runCoffer(['keys', 'delete', '--tenant', 'a', '--name', 'ghost'], env)).code, 1);
  });
});
