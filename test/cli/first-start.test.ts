import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readableLine } from '../../src/cli/readable-log.js';
import {
  BANNER_PATTERN,
  runCoffer,
  spawnServer,
  stopServer,
  TOKEN_PATTERN,
} from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';

const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

const dirs: { remove(): void }[] = [];
function newDataDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir.path;
}
after(() => {
  for (const d of dirs) d.remove();
});

/** `A=1 B=2 coffer keys create --x 'y'` → its environment and arguments (the quoting the banner uses). */
function parseCommand(line: string): { env: Record<string, string>; args: string[] } {
  const words = [...line.trim().matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
  const env: Record<string, string> = {};
  while (words[0] !== undefined && /^[A-Z_]+=/.test(words[0])) {
    const [name, ...rest] = (words.shift() ?? '').split('=');
    env[name ?? ''] = rest.join('=');
  }
  assert.equal(words.shift(), 'coffer', line);
  return { env, args: words };
}

/** The recovery command ran, printed a new token (not the banner's), and that token writes. */
async function assertNewAdminKey(
  made: { code: number | null; stdout: string; stderr: string },
  bannerToken: string,
  url: string,
): Promise<void> {
  assert.equal(made.code, 0, made.stderr);
  const newToken = (made.stdout.match(TOKEN_PATTERN) ?? [])[0] ?? '';
  assert.notEqual(newToken, '', made.stdout);
  assert.notEqual(newToken, bannerToken);
  const put = await request(url, 'PUT', '/api/default/secrets/after-recovery', {
    token: newToken,
    body: { value: 'v' },
  });
  assert.equal(put.status, 204, put.text);
}

describe('the first start of coffer serve', () => {
  it('prints the console URL, the data directory, export lines and a working recovery command; logs are JSON off a terminal', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer({ COFFER_DATA_DIR: dataDir });
    const output = server.output();
    const banner = BANNER_PATTERN.exec(output)?.[0] ?? '';
    assert.notEqual(banner, '', output);
    const token = (banner.match(TOKEN_PATTERN) ?? [])[0] ?? '';
    assert.match(token, /^coffer_/);

    assert.ok(banner.includes(`Console:         ${server.url}/ui/\n`), banner);
    assert.ok(banner.includes(`Data directory:  ${dataDir}\n`), banner);
    assert.ok(banner.includes(`    export COFFER_URL=${server.url}\n`), banner);
    assert.ok(banner.includes(`    export COFFER_TOKEN=${token}\n`), banner);

    // The URLs printed answer: the console's (a page or the "not built" notice, never a 404) and the API's.
    const ui = await fetch(`${server.url}/ui/`);
    assert.ok(ui.status === 200 || ui.status === 503, String(ui.status));
    assert.equal((await request(server.url, 'GET', '/v1/tenants/default/stores', { token })).status, 200);

    // Outside the banner, a non-terminal stdout gets one JSON object per line.
    const logLines = output
      .replace(BANNER_PATTERN, '')
      .split('\n')
      .filter((l) => l !== '');
    assert.ok(logLines.length > 0);
    for (const line of logLines) {
      const entry = JSON.parse(line) as { msg?: unknown };
      assert.equal(typeof entry.msg, 'string', line);
    }
    assert.ok(logLines.some((l) => l.includes(`"msg":"Server listening at ${server.url}"`)));

    // The recovery command, run exactly as printed, makes an admin key that works on this server.
    const recovery = /\n {4}(COFFER_DATA_DIR=\S+ coffer keys create [^\n]+)\n/.exec(banner)?.[1] ?? '';
    assert.notEqual(recovery, '', banner);
    const { env, args } = parseCommand(recovery);
    assert.equal(env.COFFER_DATA_DIR, dataDir);
    await assertNewAdminKey(await runCoffer(args, env), token, server.url);
    assert.equal(await stopServer(server), 0);

    // The next start prints no banner at all.
    const again = await spawnServer({ COFFER_DATA_DIR: dataDir });
    assert.equal(BANNER_PATTERN.exec(again.output()), null, again.output());
    assert.equal(await stopServer(again), 0);
  });

  it('started by npm start in the checkout, prints a recovery command that runs as printed (npx coffer there)', async () => {
    const dataDir = newDataDir();
    // What npm sets for `npm start`; the test runs in the checkout, as npm start does.
    assert.equal(process.cwd(), CHECKOUT);
    const server = await spawnServer({
      COFFER_DATA_DIR: dataDir,
      npm_lifecycle_event: 'start',
      npm_package_name: 'coffer',
    });
    const banner = BANNER_PATTERN.exec(server.output())?.[0] ?? '';
    const token = (banner.match(TOKEN_PATTERN) ?? [])[0] ?? '';
    const recovery = /\n {4}(cd \S+ && COFFER_DATA_DIR=\S+ npx coffer keys create [^\n]+)\n/.exec(
      banner,
    )?.[1];
    assert.ok(recovery !== undefined, banner);
    assert.ok(recovery.startsWith(`cd ${CHECKOUT} && COFFER_DATA_DIR=${dataDir} npx coffer `), recovery);

    // Run exactly as printed, by a shell, from elsewhere (npx runs this checkout's bin without a build).
    const home = join(dataDir, 'home');
    mkdirSync(home);
    const made = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', recovery],
        {
          cwd: home,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? home },
          encoding: 'utf8',
        },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      );
    });
    await assertNewAdminKey(made, token, server.url);
    assert.equal(await stopServer(server), 0);
  });

  it('writes one readable line per log entry with COFFER_LOG_FORMAT=pretty, and keeps the banner', async () => {
    const dataDir = newDataDir();
    const server = await spawnServer({ COFFER_DATA_DIR: dataDir, COFFER_LOG_FORMAT: 'pretty' });
    const output = server.output();
    assert.match(output, BANNER_PATTERN);
    const logLines = output
      .replace(BANNER_PATTERN, '')
      .split('\n')
      .filter((l) => l !== '');
    const listening = logLines.find((l) => l.includes('Server listening at'));
    assert.match(
      listening ?? '',
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}Server listening at http:\/\/127\.0\.0\.1:\d+$/,
    );
    for (const line of logLines) assert.doesNotMatch(line, /^\{/, line);
    // Not a terminal: no colour codes.
    assert.ok(!output.includes(`\u001b[`), 'no colour codes');
    assert.equal(await stopServer(server), 0);
    assert.match(
      server.output(),
      /\d\d:\d\d:\d\d\.\d{3} INFO {2}shutting down: finishing in-flight requests {2}signal=SIGTERM/,
    );
  });

  it('refuses an unknown COFFER_LOG_FORMAT at start-up, naming the choices', async () => {
    const result = await runCoffer(['serve'], { COFFER_DATA_DIR: newDataDir(), COFFER_LOG_FORMAT: 'xml' });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /COFFER_LOG_FORMAT must be one of auto, json, pretty/);
  });
});

describe('readableLine', () => {
  it('shows level, message and fields, quoting what is not a bare word; keeps a non-JSON line as is', () => {
    const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
    const line = JSON.stringify({
      level: 40,
      time,
      pid: 1,
      hostname: 'h',
      msg: 'listening beyond loopback',
      host: '0.0.0.0',
      note: 'two words',
      ids: [1, 2],
    });
    assert.equal(
      readableLine(line, false),
      '03:04:05.006 WARN  listening beyond loopback  host=0.0.0.0 note="two words" ids=[1,2]',
    );
    assert.equal(readableLine('not json', false), 'not json');
    assert.ok(readableLine(line, true).includes(`\u001b[33mWARN `));
  });
});
