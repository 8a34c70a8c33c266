import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COFFER_BIN, type ServerProcess, spawnServer } from '../support/coffer-process.js';
import { tempDir } from '../support/temp-dir.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/**
 * The README's shell examples, run as written, in order, against a fresh server
 * (docs/cli.md, "The README examples are tested"):
 * - every ```sh block runs, one after the other, in one bash (so `export`s carry over), with `set -e`;
 * - a block right after `<!-- readme-test: skip (REASON) -->` is not run; the reason is required;
 * - `npx coffer` is this checkout's binary; `curl` fails on an HTTP error (`--fail-with-body`);
 * - placeholders stand for the fresh server: `http://127.0.0.1:8080` and `https://coffer.example.com`
 *   for its URL, `coffer_...` for the admin token it printed on first start;
 * - the working directory holds the server's `./data`; the programs `coffer run` starts are the
 *   README's own one-liners, which print names and lengths that the test checks (two also fail when
 *   their secret is missing).
 */
interface Block {
  readonly line: number;
  readonly code: string;
  readonly skip: string | null;
}

const SKIP = /^<!--\s*readme-test:\s*skip\s*\((.+)\)\s*-->$/;

function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```sh') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]?.trim() !== '```'; i++) body.push(lines[i] ?? '');
    let previous = start - 1;
    while (previous >= 0 && lines[previous]?.trim() === '') previous--;
    const marker = SKIP.exec(lines[previous]?.trim() ?? '');
    blocks.push({ line: start + 1, code: body.join('\n'), skip: marker?.[1]?.trim() ?? null });
  }
  return blocks;
}

describe('README examples', () => {
  let work: { path: string; remove(): void };
  let server: ServerProcess;
  let token: string;

  before(async () => {
    work = tempDir('coffer-readme-');
    mkdirSync(join(work.path, 'home'));
    server = await spawnServer({ COFFER_DATA_DIR: join(work.path, 'data') });
    const printed = /(coffer_[0-9A-Za-z_-]{20,})/.exec(server.output());
    assert.ok(printed?.[1], `the first start prints the admin token:\n${server.output()}`);
    token = printed[1];
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
    work.remove();
  });

  it('every skipped block says why; the rest is most of the README', () => {
    const blocks = shellBlocks(readFileSync(README, 'utf8'));
    for (const b of blocks) {
      if (b.skip !== null)
        assert.ok(b.skip.length >= 10, `README.md:${b.line}: give the reason for skipping`);
    }
    const run = blocks.filter((b) => b.skip === null);
    assert.ok(run.length >= 8, `only ${run.length} blocks would run`);
    assert.ok(run.some((b) => b.code.includes('npx coffer run')));
    assert.ok(run.some((b) => b.code.includes('npx coffer secrets set')));
    assert.ok(run.some((b) => b.code.includes('npx coffer login')));
  });

  it('the shell examples run as written, in order, against a fresh server', async () => {
    const blocks = shellBlocks(readFileSync(README, 'utf8')).filter((b) => b.skip === null);
    const substitute = (code: string) =>
      code
        .replaceAll('http://127.0.0.1:8080', server.url)
        .replaceAll('https://coffer.example.com', server.url)
        .replaceAll(/coffer_\.\.\.|coffer_…/g, token);
    const script = [
      'set -eo pipefail',
      `npx() { if [ "$1" = coffer ]; then shift; "${process.execPath}" "${COFFER_BIN}" "$@"; else command npx "$@"; fi; }`,
      'curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }',
      ...blocks.map((b) => `echo "--- README.md:${b.line}" >&2\n${substitute(b.code)}`),
      'echo "--- all README examples ran" >&2',
    ].join('\n');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], {
        cwd: work.path,
        env: { PATH: process.env.PATH ?? '', HOME: join(work.path, 'home'), LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    const where = [...result.stderr.matchAll(/--- (README\.md:\d+)/g)].pop()?.[1];
    assert.equal(
      result.code,
      0,
      `a README example failed in the block at ${where}:\n${result.stderr.slice(-3000)}\n--- stdout:\n${result.stdout.slice(-2000)}`,
    );
    assert.match(result.stderr, /--- all README examples ran/);
    // The programs started by `coffer run` got their secrets (they fail otherwise), only those asked
    // for with --only, and no COFFER_* variable; values stay off stderr (`--reveal` prints one).
    assert.match(result.stdout, /^DATABASE_URL: 37 characters$/m);
    assert.match(result.stdout, /^DATABASE_URL: 37 characters, REDIS_URL: 0$/m);
    assert.match(result.stdout, /^\[ 'DATABASE_URL', 'REDIS_URL' \]$/m);
    assert.match(result.stdout, /^REDIS_URL: 27 characters$/m);
    assert.ok(!result.stderr.includes('s3cret@db.internal'), 'no value on stderr');
  });
});
