import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** npm may reach the registry for metadata (its cache answers the rest); never longer than this. */
const NPM_TIMEOUT_MS = 240_000;

/**
 * The package as a user gets it: `npm pack`, then `npm install -g` of the tarball into a temporary
 * prefix and `npm install` into a temporary project. Install scripts are skipped to keep the test
 * bounded (no compile of better-sqlite3): what is checked here — `coffer` on the PATH, `version`,
 * `--help`, a command against a server, `import … from 'coffer/client'` — loads no native module,
 * which is itself the point of the CLI's lazy loading.
 */
describe('npm pack and install', () => {
  let work: { path: string; remove(): void };
  let server: TestServer;
  let tarball: string;
  let prefix: string;
  let project: string;
  const npm = (args: string[], cwd: string) =>
    run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd,
      timeout: NPM_TIMEOUT_MS,
      env: { ...process.env, npm_config_update_notifier: 'false' },
      maxBuffer: 16 * 1024 * 1024,
    });

  before(async () => {
    work = tempDir('coffer-package-');
    server = await startTestServer();
    // dist/ is built by `npm test` (pretest); `npm pack` would otherwise build it through `prepare`.
    const packed = await npm(
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work.path, ROOT],
      work.path,
    );
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info !== undefined);
    tarball = join(work.path, info.filename);
    writeFileSync(join(work.path, 'files.json'), JSON.stringify(info.files.map((f) => f.path)));
    prefix = join(work.path, 'prefix');
    project = join(work.path, 'project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'uses-coffer', private: true, type: 'module' }),
    );
    await Promise.all([
      npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', tarball], work.path),
      npm(['install', '--prefer-offline', '--ignore-scripts', tarball], project),
    ]);
  });
  after(async () => {
    await server.close();
    work.remove();
  });

  it('the tarball holds the built code, the binary and the docs; not the tests or the TypeScript sources', () => {
    const files = JSON.parse(readFileSync(join(work.path, 'files.json'), 'utf8')) as string[];
    for (const needed of [
      'bin/coffer.js',
      'bin/package.json',
      'bin/code-cache.js',
      'dist/bundle/cli/coffer.cjs',
      'dist/bundle/cli/commands.cjs',
      'dist/bundle/cli/commands.cjs.v8cache',
      'dist/src/cli/main.js',
      'dist/src/client/index.js',
      'dist/src/client/index.d.ts',
      'README.md',
      'package.json',
    ]) {
      assert.ok(files.includes(needed), needed);
    }
    assert.deepEqual(
      files.filter(
        (f) =>
          f.startsWith('dist/test/') ||
          f.startsWith('test/') ||
          f.startsWith('src/') ||
          f.startsWith('dist/bench/'),
      ),
      [],
    );
  });

  it('`npm install -g` puts a working `coffer` on the PATH, used from another directory', async () => {
    const elsewhere = join(work.path, 'elsewhere');
    mkdirSync(elsewhere);
    const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`, HOME: elsewhere };
    const version = await run('coffer', ['version'], { cwd: elsewhere, env });
    assert.equal(version.stdout, `${VERSION}\n`);
    const help = await run('coffer', ['run', '--help'], { cwd: elsewhere, env });
    assert.match(help.stdout, /^Usage:\n {2}run /);
    const token = await server.createKey('default', 'pkg', ['Secret.Read', 'Secret.Write']);
    const stored = await request(server.url, 'PUT', '/api/default/secrets/PKG_SECRET', {
      token,
      body: { value: 'from-the-server-0d4e' },
    });
    assert.equal(stored.status, 204, stored.text);
    const remote = await run(
      'coffer',
      [
        'run',
        '--url',
        server.url,
        '--tenant',
        'default',
        '--store',
        'default',
        '--',
        'sh',
        '-c',
        'echo "$PKG_SECRET"',
      ],
      { cwd: elsewhere, env: { ...env, COFFER_TOKEN: token } },
    );
    assert.equal(remote.stdout, 'from-the-server-0d4e\n');
    assert.ok(!existsSync(join(elsewhere, 'data')), 'a remote command creates no local data');
  });

  it('a project that installed the tarball imports the typed client from `coffer/client`', async () => {
    writeFileSync(
      join(project, 'client.mjs'),
      [
        "import { CofferClient, CofferConnectionError } from 'coffer/client';",
        'const coffer = new CofferClient({ baseUrl: process.env.URL, token: process.env.TOKEN });',
        "const { items } = await coffer.listStores('default');",
        "const { secrets } = await coffer.reveal('default', 'default', ['PKG_CLIENT']);",
        'console.log(JSON.stringify({ stores: items.map((s) => s.name), value: secrets[0]?.value, connectionError: typeof CofferConnectionError }));',
      ].join('\n'),
    );
    const token = await server.createKey('default', 'pkg-client', ['Secret.Read', 'Secret.Write']);
    await request(server.url, 'PUT', '/api/default/secrets/PKG_CLIENT', {
      token,
      body: { value: 'typed-9a7c' },
    });
    const res = await run(process.execPath, ['client.mjs'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', URL: server.url, TOKEN: token },
    });
    assert.deepEqual(JSON.parse(res.stdout), {
      stores: ['default'],
      value: 'typed-9a7c',
      connectionError: 'function',
    });
    assert.ok(
      existsSync(join(project, 'node_modules', 'coffer', 'dist', 'src', 'client', 'index.d.ts')),
      'with its types',
    );
  });
});
