// `npm run build:cli`, after rolldown: V8's code cache of the CLI's bundle (bin/code-cache.js), made
// by running what start-up time is measured on, a local `coffer run`, in a throwaway data directory.
// The cache holds the functions that run compiled; other commands compile the rest as before.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const { join, sep } = require('node:path');

const root = join(__dirname, '..');
const bundle = join(root, 'dist', 'bundle', 'cli') + sep;

if (process.env.COFFER_MAKE_CODE_CACHE === 'produce') {
  // The producing run: this file stands where bin/coffer.js would, so the bundle sees the same argv.
  require(join(root, 'bin', 'code-cache.js')).useCodeCache(bundle, { produce: true });
  require(join(bundle, 'coffer.cjs'));
} else {
  const dir = mkdtempSync(join(os.tmpdir(), 'coffer-code-cache-'));
  const env = { PATH: process.env.PATH ?? '', HOME: dir, COFFER_DATA_DIR: join(dir, 'data') };
  const run = (file, args, extra = {}) => {
    const result = spawnSync(process.execPath, [file, ...args], {
      env: { ...env, ...extra },
      stdio: 'inherit',
    });
    if (result.status !== 0) throw new Error(`${args.join(' ')} exited with ${result.status}`);
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
