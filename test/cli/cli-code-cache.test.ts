import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { tempDir } from '../support/temp-dir.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = join(ROOT, 'dist', 'bundle', 'cli');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The CLI bundle's V8 code cache (bin/code-cache.js, scripts/make-cli-code-cache.cjs). */
describe('the CLI bundle’s code cache', () => {
  it('the build made one for the files a local run and a server start load, and this Node accepts it', () => {
    const cached = readdirSync(BUNDLE).filter((f) => f.endsWith('.cjs.v8cache'));
    for (const needed of [
      'coffer.cjs.v8cache',
      'cli.cjs.v8cache',
      'commands.cjs.v8cache',
      'server.cjs.v8cache',
    ]) {
      assert.ok(cached.includes(needed), needed);
    }
    for (const file of cached) {
      const source = join(BUNDLE, file.replace(/\.v8cache$/, ''));
      // Compiled exactly as bin/code-cache.js compiles it.
      const script = new vm.Script(Module.wrap(readFileSync(source, 'utf8')), {
        filename: source,
        cachedData: readFileSync(join(BUNDLE, file)),
      });
      assert.equal(script.cachedDataRejected, false, `${file} is refused`);
    }
  });

  it('a cache that does not fit (another Node, a damaged file) is refused by V8 and the command runs as if there were none', async () => {
    const copy = tempDir('coffer-code-cache-');
    try {
      // The package's layout, with every cache file replaced by garbage.
      cpSync(join(ROOT, 'bin'), join(copy.path, 'bin'), { recursive: true });
      cpSync(BUNDLE, join(copy.path, 'dist', 'bundle', 'cli'), { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(copy.path, 'package.json'));
      for (const file of readdirSync(join(copy.path, 'dist', 'bundle', 'cli'))) {
        if (file.endsWith('.v8cache')) {
          writeFileSync(join(copy.path, 'dist', 'bundle', 'cli', file), Buffer.alloc(4096, 0x5a));
        }
      }
      const version = await run(process.execPath, [join(copy.path, 'bin', 'coffer.js'), 'version'], {
        env: { PATH: process.env.PATH ?? '', HOME: copy.path },
      });
      assert.equal(version.stdout, `${VERSION}\n`);
      const help = await run(process.execPath, [join(copy.path, 'bin', 'coffer.js'), 'run', '--help'], {
        env: { PATH: process.env.PATH ?? '', HOME: copy.path },
      });
      assert.match(help.stdout, /^Usage:\n {2}run /);
    } finally {
      copy.remove();
    }
  });
});

/** What the bundle finds by path (rolldown.config.js, "urls-from-dist"): the files tsc's output finds. */
describe('the CLI bundle’s paths', () => {
  it('every file a chunk names relative to itself exists: the console, the checkpoint worker, package.json', () => {
    const named: string[] = [];
    for (const chunk of readdirSync(BUNDLE).filter((f) => f.endsWith('.cjs'))) {
      const source = readFileSync(join(BUNDLE, chunk), 'utf8');
      for (const m of source.matchAll(
        /new URL\("(\.{1,2}\/[^"]*)", require\("url"\)\.pathToFileURL\(__filename\)\.href\)/g,
      )) {
        const target = fileURLToPath(new URL(m[1] ?? '', `file://${BUNDLE}/`));
        named.push(target);
        assert.ok(existsSync(target), `${chunk} names ${m[1] ?? ''}: ${target} does not exist`);
      }
    }
    // The three the server needs (a console "not built", or a WAL scrub on the writer, would hide them).
    assert.ok(named.includes(join(ROOT, 'dist', 'ui') + '/'), named.join('\n'));
    assert.ok(named.includes(join(ROOT, 'dist', 'src', 'storage', 'sqlite', 'sqlite-checkpoint-worker.js')));
    assert.ok(named.includes(join(ROOT, 'package.json')));
  });
});
