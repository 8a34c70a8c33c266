'use strict';
// V8's compiled code for the CLI's bundle, kept next to it (`npm run build:cli` makes it by running a
// local `coffer run` and starting a throwaway `coffer serve`: scripts/make-cli-code-cache.cjs). Node 22 caches compiled modules itself
// (bin/coffer.js turns that on); Node 20 compiles every function of the bundle again on each start,
// which was the largest part left of a local `coffer run`'s start-up (BENCHMARKS.md, "CLI start-up").
//
// Trust: the cache files sit in the package, beside the code they were made from, as trusted as that
// code; nothing is ever written at run time, nor anywhere shared such as /tmp (a cache another user
// could plant would be code run as the caller). V8 refuses data made by another V8 version or with
// other flags (`cachedDataRejected`), and then the file is compiled as if there were no cache.
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const vm = require('node:vm');

const SUFFIX = '.v8cache';

/**
 * Compiles the CommonJS files under `dir` with their cached code. With `produce`, compiles them
 * without it and, when the process exits, writes what V8 compiled meanwhile (the functions the run
 * used, not only the top level) next to each file, or next to the file `only` alone.
 */
function useCodeCache(dir, { produce = false, only = null } = {}) {
  const compiled = [];
  const compile = Module.prototype._compile;
  Module.prototype._compile = function compileWithCache(content, filename) {
    if (!filename.startsWith(dir)) return compile.call(this, content, filename);
    let cachedData;
    if (produce) {
      // A function restored from a cache has lost Node's `import()` callback (Node 20): a file that
      // calls import() (none of the bundle's today; rolldown.config.js) is compiled by Node, uncached.
      if (content.includes('import(')) return compile.call(this, content, filename);
    } else {
      try {
        cachedData = readFileSync(filename + SUFFIX);
      } catch {
        // No cache for this file: Node compiles it as usual.
        return compile.call(this, content, filename);
      }
    }
    const script = new vm.Script(Module.wrap(content), { filename, cachedData });
    if (produce && (only === null || filename === only)) compiled.push([filename, script]);
    const wrapper = script.runInThisContext({ displayErrors: true });
    const require = Module.createRequire(filename);
    return wrapper.call(this.exports, this.exports, require, this, filename, dirname(filename));
  };
  if (produce) {
    process.on('exit', () => {
      for (const [filename, script] of compiled) writeFileSync(filename + SUFFIX, script.createCachedData());
    });
  }
}

module.exports = { useCodeCache };
