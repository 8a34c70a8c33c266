#!/usr/bin/env node
// `prepare`: builds the checkout (npm ci, npm install, npm pack), except under `npx coffer`.
// npm 11 runs a project's own bin by installing the project into its npx cache as a linked
// directory, which runs `prepare` again: a full build (about a minute, silent) on the first
// `npx coffer` after every change of the checkout. The checkout was built by `npm ci`; `npx` only
// needs the link (docs/cli.md).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = ['dist/src/index.js', 'dist/bundle/cli/coffer.cjs'].every((f) =>
  existsSync(join(__dirname, '..', f)),
);
// Only a checkout that is already built: `npx` on one that is not still builds it.
if (process.env.npm_command === 'exec' && built) process.exit(0);
const npm = process.env.npm_execpath;
const result =
  npm === undefined
    ? spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' })
    : spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' });
if (result.error !== undefined) process.stderr.write(`prepare: ${result.error.message}\n`);
process.exit(result.status ?? 1);
