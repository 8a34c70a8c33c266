#!/usr/bin/env node
// The `coffer` command: runs the CLI's bundle, which `npm run build` makes (and so `npm ci`, through
// `prepare`); rolldown.config.js says why a bundle. CommonJS, as bin/package.json says, like the
// bundle: an ES module entry would start Node's asynchronous module loader first, a few milliseconds
// more on every command (BENCHMARKS.md, "CLI start-up").
'use strict';
const nodeModule = require('node:module');

// Node 22.1+ keeps compiled modules between runs; Node 20 has no such cache and skips this.
if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache();
require('../dist/bundle/cli/coffer.cjs');
