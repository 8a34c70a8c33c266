import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CofferClient } from '../../src/client/coffer-client.js';
import { CofferConnectionError } from '../../src/client/coffer-connection-error.js';
import { COMMAND_NAMES } from '../../src/cli/usage.js';
import { COFFER_BIN, runCoffer } from '../support/coffer-process.js';
import { tempDir } from '../support/temp-dir.js';

/** A port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('coffer help and errors', () => {
  let dir: { path: string; remove(): void };
  before(() => {
    dir = tempDir('coffer-cli-errors-');
  });
  after(() => dir.remove());

  it('every command’s --help prints that command’s usage on stdout and exits 0', async () => {
    assert.ok(COMMAND_NAMES.length >= 12);
    for (const command of COMMAND_NAMES) {
      const res = await runCoffer([command, '--help'], { COFFER_DATA_DIR: join(dir.path, 'data') });
      assert.equal(res.code, 0, `${command}: ${res.stderr}`);
      assert.match(res.stdout, new RegExp(`^Usage:\\n {2}${command}`), command);
      assert.ok(!res.stdout.includes('Commands:'), `${command}: its own usage, not the manual`);
    }
    const sub = await runCoffer(['keys', 'create', '--help'], {});
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /keys create --tenant T --name N --permission P/);
    assert.ok(!sub.stdout.includes('keys list'), 'only the subcommand');
    // `run`'s own --help, not the program's: only before `--`.
    const runHelp = await runCoffer(['run', '-h'], {});
    assert.equal(runHelp.code, 0);
    assert.match(runHelp.stdout, /run \[/);
    const manual = await runCoffer(['--help'], {});
    assert.equal(manual.code, 0);
    for (const command of COMMAND_NAMES) assert.match(manual.stdout, new RegExp(`\\n {2}${command}`));
    assert.ok(!existsSync(join(dir.path, 'data')), '--help creates nothing');
  });

  it('a usage error is one line saying what is wrong, then the command’s usage (exit 2)', async () => {
    for (const args of [
      ['keys', 'create', '--tenant', 'a', '--name', 'k'],
      ['keys', 'create', '--tenant', 'a', '--bogus'],
      ['keys', 'list'],
      ['audit', 'export'],
      ['run', '--tenant', 'a', '--store', 's'],
    ]) {
      const res = await runCoffer(args, { COFFER_DATA_DIR: join(dir.path, 'data'), HOME: dir.path });
      assert.equal(res.code, 2, args.join(' '));
      const [first, second, third] = res.stderr.split('\n');
      assert.match(first ?? '', /^coffer: \S/, args.join(' '));
      assert.equal(second, 'Usage:');
      assert.ok(third?.startsWith(`  ${args[0]}`), `${args.join(' ')}: ${res.stderr}`);
      assert.ok(!res.stderr.includes('Commands:'), 'not the whole manual');
    }
    const unknown = await runCoffer(['frobnicate'], {});
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^coffer: unknown command "frobnicate"\.\nCommands: serve, keys, run/);
  });

  it('a server that is down: the CLI and the client name the URL and say why', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const res = await runCoffer(['secrets', 'list', '--tenant', 'a', '--store', 's'], {
      COFFER_URL: url,
      COFFER_TOKEN: 'coffer_x',
    });
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr,
      `coffer: cannot reach Coffer at ${url}: connection refused (is the server running, and on this port?) [ECONNREFUSED].\n`,
    );
    const client = new CofferClient({ baseUrl: url, token: 'coffer_x', retries: 0 });
    await assert.rejects(client.listStores('a'), (error: unknown) => {
      assert.ok(error instanceof CofferConnectionError);
      assert.equal(error.code, 'ECONNREFUSED');
      assert.equal(error.url, url);
      assert.match(error.message, /connection refused/);
      assert.ok(!error.message.includes('fetch failed'));
      return true;
    });
    const unknownHost = await runCoffer(['run', '--tenant', 'a', '--store', 's', '--', 'true'], {
      COFFER_URL: 'http://coffer.invalid',
      COFFER_TOKEN: 'coffer_x',
    });
    assert.equal(unknownHost.code, 1);
    assert.match(
      unknownHost.stderr,
      /^coffer: cannot reach Coffer at http:\/\/coffer\.invalid: host (name lookup failed|not found)/,
    );
  });

  it('a reader that stops early (`| head -2`) ends every writing command quietly', async () => {
    const env = { COFFER_DATA_DIR: join(dir.path, 'pipe-data'), HOME: dir.path };
    const at = ['--tenant', 'acme', '--store', 'app'];
    // Enough output to overflow a pipe buffer many times over.
    const dotenv = Array.from({ length: 400 }, (_, i) => `K${i}=${'v'.repeat(200)}`).join('\n');
    assert.equal((await runCoffer(['import', ...at, '-'], env, { input: dotenv })).code, 0);
    for (const args of [
      ['audit', 'export', '--since', '2000-01-01'],
      ['export', ...at],
      ['secrets', 'list', ...at],
    ]) {
      const result = await new Promise<{ code: number | null; stderr: string; lines: string }>((resolve) => {
        // `coffer … | head -2` in a shell: a real early close; pipefail gives coffer's own exit code.
        const script = `set -o pipefail; "${process.execPath}" "${COFFER_BIN}" "$@" | head -2`;
        const child = spawn('bash', ['-c', script, 'bash', ...args], {
          env: { PATH: process.env.PATH ?? '', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stderr, lines: stdout }));
      });
      assert.equal(result.lines.split('\n').filter(Boolean).length, 2, args.join(' '));
      assert.ok(!/EPIPE|Error|at /.test(result.stderr), `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.code, 0);
    }
  });

  it('reading commands create nothing: no database, no key file, no audit chain for an unknown tenant', async () => {
    const empty = join(dir.path, 'empty');
    const list = await runCoffer(['keys', 'list', '--tenant', 'acme'], { HOME: dir.path }, { cwd: dir.path });
    assert.equal(list.code, 1);
    assert.match(list.stderr, /^coffer: no Coffer data in .*data: /);
    assert.ok(!existsSync(join(dir.path, 'data')), 'no ./data created');
    for (const args of [
      ['keys', 'list', '--services'],
      ['secrets', 'list', '--tenant', 'a', '--store', 's'],
      ['export', '--tenant', 'a', '--store', 's'],
      ['audit', 'verify'],
      ['keys', 'disable', '--tenant', 'a', '--name', 'k'],
    ]) {
      const res = await runCoffer(args, { COFFER_DATA_DIR: empty, HOME: dir.path });
      assert.equal(res.code, 1, args.join(' '));
      assert.match(res.stderr, /no Coffer data in /);
    }
    assert.ok(!existsSync(empty));

    // A database exists (tenant acme); an unknown tenant is named, and gets no audit chain.
    const data = join(dir.path, 'tenants');
    const env = { COFFER_DATA_DIR: data, HOME: dir.path };
    assert.equal(
      (await runCoffer(['keys', 'create', '--tenant', 'acme', '--name', 'k', '--permission', '*'], env)).code,
      0,
    );
    const files = readdirSync(data).sort();
    const ghost = await runCoffer(['keys', 'list', '--tenant', 'ghost'], env);
    assert.equal(ghost.code, 1);
    assert.match(
      ghost.stderr,
      /^coffer: tenant 'ghost' does not exist in .*: create it with its first key, `coffer keys create --tenant ghost/,
    );
    const verify = await runCoffer(['audit', 'verify'], env);
    assert.equal(verify.code, 0, verify.stderr);
    assert.ok(!verify.stdout.includes('ghost'), verify.stdout);
    assert.match(verify.stdout, /tenant 'acme'/);
    const noKey = await runCoffer(['keys', 'disable', '--tenant', 'acme', '--name', 'ghost'], env);
    assert.equal(noKey.code, 1);
    assert.equal(
      noKey.stderr,
      "coffer: tenant 'acme' has no key named 'ghost' (`coffer keys list --tenant acme` lists them).\n",
    );
    const acme = await runCoffer(['keys', 'list', '--tenant', 'acme'], env);
    assert.equal(acme.code, 0, acme.stderr);
    assert.match(acme.stdout, /^k\tenabled\t/);
    assert.deepEqual(
      readdirSync(data)
        .sort()
        .filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm')),
      files.filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm')),
    );
  });
});
