#!/usr/bin/env node
// The `coffer` command. Runs the compiled CLI (`npm ci` builds it through the `prepare` script).
import module from 'node:module';

// Node 22.1+ keeps compiled modules between runs (every `coffer run` starts a program; start-up
// time matters: BENCHMARKS.md). Node 20 has no such cache and skips this.
if (typeof module.enableCompileCache === 'function') module.enableCompileCache();
await import('../dist/src/cli/main.js');
