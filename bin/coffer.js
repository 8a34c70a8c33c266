#!/usr/bin/env node
// The `coffer` command: runs the CLI's bundle, which `npm run build` makes (and so `npm ci`, through
// `prepare`); rolldown.config.js says why a bundle. CommonJS, as bin/package.json says, like the
// bundle: an ES module entry would start Node's asynchronous module loader first, a few milliseconds
// more on every command (BENCHMARKS.md, "CLI start-up").
'use strict';
const { statSync } = require('node:fs');
const nodeModule = require('node:module');

// Node 22.1+ keeps compiled modules between runs; Node 20 has no such cache and skips this.
if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache();

const builtAt = (file) => statSync(`${__dirname}/${file}`, { throwIfNoEntry: false })?.mtimeMs ?? -1;
// After `tsc` alone (a developer's quick build, DEVELOPERS.md) the bundle is older than the modules
// it was made from: run those, never an out-of-date command. A package's files all have one date.
if (builtAt('../dist/bundle/cli/coffer.cjs') >= builtAt('../dist/src/cli/main.js')) {
  // Node 22+ has its own cache (above); ours is for Node 20, which has none.
  if (typeof nodeModule.enableCompileCache !== 'function') {
    const { join, sep } = require('node:path');
    require('./code-cache.js').useCodeCache(join(__dirname, '..', 'dist', 'bundle', 'cli') + sep);
  }
  require('../dist/bundle/cli/coffer.cjs');
} else {
  import('../dist/src/cli/main.js');
}
