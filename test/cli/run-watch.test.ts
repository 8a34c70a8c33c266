import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { COFFER_BIN } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * A child that prints `START <value>` once started (signal handler in place) and `STOP` on SIGTERM (then exits 0), unless
 * told to ignore SIGTERM; it exits with EXIT_CODE after EXIT_AFTER ms when those are set.
 */
const CHILD = `
if (process.env.IGNORE_TERM === '1') process.on('SIGTERM', () => process.stdout.write('IGNORED\\n'));
else process.on('SIGTERM', () => { process.stdout.write('STOP\\n'); process.exit(0); });
// Node installs signal handlers a moment after process.on returns: START says they are in place.
setTimeout(() => process.stdout.write('START ' + process.env.WATCHED + '\\n'), 50);
if (process.env.EXIT_AFTER) setTimeout(() => process.exit(Number(process.env.EXIT_CODE)), Number(process.env.EXIT_AFTER));
setInterval(() => undefined, 1000);
`;

interface Watched {
  readonly proc: ChildProcess;
  output(): string;
  waitFor(what: string, count?: number): Promise<void>;
  exited: Promise<number | null>;
}

function occurrences(text: string, what: string): number {
  return text.split(what).length - 1;
}

function runWatching(args: string[], env: Record<string, string>): Watched {
  const proc = spawn(
    process.execPath,
    [COFFER_BIN, 'run', '--watch', ...args, '--', process.execPath, '-e', CHILD],
    {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const waiters = new Set<() => void>();
  const feed = (d: Buffer) => {
    out += d.toString('utf8');
    for (const w of waiters) w();
  };
  proc.stdout?.on('data', feed);
  proc.stderr?.on('data', feed);
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    async waitFor(what, count = 1) {
      const deadline = Date.now() + 20_000;
      while (occurrences(out, what) < count) {
        if (proc.exitCode !== null) throw new Error(`coffer exited before ${what}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ×${count}:\n${out}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, 200);
          function done() {
            clearTimeout(t);
            waiters.delete(done);
            resolve();
          }
          waiters.add(done);
        });
      }
    },
  };
}

describe('coffer run --watch', () => {
  let server: TestServer;
  const put = (name: string, value: string) =>
    request(server.url, 'PUT', `/v1/tenants/default/stores/app/secrets/${name}`, {
      token: server.adminToken,
      body: { value },
    });
  const running: Watched[] = [];

  before(async () => {
    server = await startTestServer();
    await request(server.url, 'POST', '/v1/tenants/default/stores', {
      token: server.adminToken,
      body: { name: 'app' },
    });
    await put('WATCHED', 'v0');
    await put('OTHER', 'o0');
  });
  after(async () => {
    // SIGINT is forwarded to the child (which never ignores it), so no child outlives its coffer.
    for (const r of running) if (r.proc.exitCode === null) r.proc.kill('SIGINT');
    await Promise.all(running.map((r) => r.exited));
    await server.close();
  });

  const modes = {
    local: (): Record<string, string> => ({
      COFFER_DATA_DIR: server.dataDir,
      COFFER_WATCH_POLL_MS: '200',
      ...(server.databaseUrl === null ? {} : { COFFER_DATABASE_URL: server.databaseUrl }),
    }),
    remote: (): Record<string, string> => ({
      COFFER_URL: server.url,
      COFFER_TOKEN: server.adminToken,
      COFFER_DATA_DIR: '/nonexistent/coffer',
    }),
  };

  for (const mode of ['local', 'remote'] as const) {
    it(`${mode}: restarts the child (SIGTERM first) when a secret it received changes; the new child sees the new value`, async () => {
      const tag = `${mode}-${Math.random().toString(36).slice(2, 8)}`;
      await put('WATCHED', `first-${tag}`);
      const w = runWatching(
        ['--tenant', 'default', '--store', 'app', '--only', 'WATCHED', '--watch-debounce', '100'],
        modes[mode](),
      );
      running.push(w);
      await w.waitFor(`START first-${tag}`);
      await put('WATCHED', `second-${tag}`);
      await w.waitFor(`START second-${tag}`);
      assert.ok(w.output().indexOf('STOP') < w.output().indexOf(`START second-${tag}`), w.output());
      assert.match(w.output(), /coffer: restarting the command \(WATCHED: new value\)/);
      // A secret it did not receive changes: no restart; the next change of its own is the second.
      await put('OTHER', `other-${tag}`);
      await put('WATCHED', `third-${tag}`);
      await w.waitFor(`START third-${tag}`);
      assert.equal(occurrences(w.output(), 'START '), 3, w.output());
      // A signal to coffer goes to the child and ends the run with the child's exit code.
      w.proc.kill('SIGTERM');
      assert.equal(await w.exited, 0, w.output());
    });
  }

  it('a child that ignores the restart signal is killed after --watch-timeout, then started again', async () => {
    const w = runWatching(
      [
        '--tenant',
        'default',
        '--store',
        'app',
        '--only',
        'WATCHED',
        '--watch-timeout',
        '1',
        '--watch-debounce',
        '0',
      ],
      { ...modes.remote(), IGNORE_TERM: '1' },
    );
    running.push(w);
    await w.waitFor('START ');
    await put('WATCHED', 'stubborn');
    await w.waitFor('START stubborn');
    assert.match(w.output(), /IGNORED/);
    assert.match(w.output(), /did not stop within 1 s of SIGTERM: killing it/);
    // SIGINT, forwarded, ends this child (it ignores only SIGTERM), and with it the run.
    w.proc.kill('SIGINT');
    assert.equal(await w.exited, 130);
  });

  it('remote: a key disabled while watching ends the watch, not the command', async () => {
    const token = await server.createKey('default', 'watcher', ['secrets:read', 'secrets:reveal']);
    const w = runWatching(['--tenant', 'default', '--store', 'app', '--only', 'WATCHED'], {
      ...modes.remote(),
      COFFER_TOKEN: token,
    });
    running.push(w);
    await w.waitFor('START ');
    await server.runtime.core.apiKeys.update(OPERATOR, 'default', 'watcher', { enabled: false });
    await w.waitFor('no longer watching for changes, the command keeps running');
    assert.equal(w.proc.exitCode, null);
    w.proc.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.output());
  });

  it('a child that exits by itself ends the run with its exit code', async () => {
    const w = runWatching(['--tenant', 'default', '--store', 'app'], {
      ...modes.remote(),
      EXIT_AFTER: '300',
      EXIT_CODE: '7',
    });
    running.push(w);
    assert.equal(await w.exited, 7);
  });
});
