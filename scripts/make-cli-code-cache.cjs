// `npm run build:cli`, after rolldown: V8's code cache of the CLI's bundle (bin/code-cache.js), made
// by running what start-up time is measured on, in a throwaway data directory: a local `coffer run`
// (every chunk it loads), then the start of `coffer serve` (the server's chunk alone). The cache holds
// the functions that ran, compiled; other commands compile the rest as before.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { setTimeout, clearTimeout } = require('node:timers');
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const { dirname, join, sep } = require('node:path');

const root = join(__dirname, '..');
const bundle = join(root, 'dist', 'bundle', 'cli') + sep;

const produce = process.env.COFFER_MAKE_CODE_CACHE;
if (produce !== undefined) {
  // The producing run: this file stands where bin/coffer.js would, so the bundle sees the same argv.
  // `produce:<file>` writes the cache of that chunk alone.
  const only = produce.startsWith('produce:') ? join(bundle, produce.slice('produce:'.length)) : null;
  require(join(root, 'bin', 'code-cache.js')).useCodeCache(bundle, { produce: true, only });
  require(join(bundle, 'coffer.cjs'));
} else {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}

async function main() {
  const dir = mkdtempSync(join(os.tmpdir(), 'coffer-code-cache-'));
  const env = { PATH: process.env.PATH ?? '', HOME: dir, COFFER_DATA_DIR: join(dir, 'data') };
  const run = (file, args, extra = {}) => {
    const result = spawnSync(process.execPath, [file, ...args], {
      env: { ...env, ...extra },
      // What the commands print ("Set secret 'CODE_CACHE' …") would only puzzle an `npm ci`:
      // shown only when one fails.
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    if (result.status !== 0) {
      throw new Error(
        `${args.join(' ')} exited with ${result.status}\n${result.stdout ?? ''}${result.stderr ?? ''}`,
      );
    }
  };
  try {
    run(join(root, 'bin', 'coffer.js'), [
      'secrets',
      'set',
      'CODE_CACHE',
      'x',
      '--tenant',
      'build',
      '--store',
      'cli',
    ]);
    run(__filename, ['run', '--tenant', 'build', '--store', 'cli', '--', process.execPath, '-e', '0'], {
      COFFER_MAKE_CODE_CACHE: 'produce',
    });
    // Only a speed-up: a machine where a server cannot listen for a moment still builds, warned.
    await startAndStopServer({
      ...env,
      COFFER_DATA_DIR: join(dir, 'serve'),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      COFFER_MAKE_CODE_CACHE: 'produce:server.cjs',
    }).catch((error) => {
      process.stderr.write(
        `warning: no code cache for server.cjs (a slower server start): ${error.message}\n`,
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts `coffer serve` until its first-start banner is out (it is listening), then stops it. */
async function startAndStopServer(serveEnv) {
  const child = spawn(process.execPath, [__filename, 'serve'], {
    env: serveEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  let out = '';
  const listening = new Promise((resolve) => {
    child.stdout.on('data', (chunk) => {
      out += chunk.toString('utf8');
      if (out.includes('Console:')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
  // Interrupted (Ctrl-C, a CI timeout): the server goes too, never left running on its own.
  const interrupted = (signal) => {
    child.kill('SIGKILL');
    rmSync(dirname(serveEnv.COFFER_DATA_DIR), { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (!(await listening)) throw new Error(`serve exited before listening: ${await exited}`);
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`serve exited with ${code}`);
  } finally {
    clearTimeout(timeout);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}
