// The `coffer` command as a few CommonJS files (`npm run build:cli`, part of `npm run build`), which
// bin/coffer.js runs. Every `coffer run` starts a program, so start-up time is paid on each one: loading
// ~50 ES modules one by one (resolution, an async graph) cost more than the work of a local run
// (BENCHMARKS.md, "CLI start-up"). The unbundled dist/src/ stays: it is the library (`coffer`,
// `coffer/client`) and the server.
import { sep } from 'node:path';
import { defineConfig } from 'rolldown';

const inSrc = (pattern) => new RegExp(`[\\\\/]src[\\\\/]${pattern}`);

/**
 * What `coffer version`, `coffer --help` and a usage error need: the dispatch and the usage texts.
 * Every other command loads `commands.cjs` on top.
 */
const DISPATCH = [
  inSrc('cli[\\\\/](cli|package-version|usage-error|usage)\\.ts$'),
  inSrc('client[\\\\/]coffer-api-error\\.ts$'),
  inSrc('core[\\\\/](permissions|errors)\\.ts$'),
];

export default defineConfig({
  input: { coffer: 'src/cli/main.ts' },
  platform: 'node',
  // `coffer serve` runs the unbundled server (dist/src/): its start-up is not what the bundle is for,
  // and Fastify, pino and the console's files are found relative to it. better-sqlite3's JavaScript
  // is bundled (its native addon is loaded by path: src/storage/sqlite/sqlite-repository.ts); every
  // other package stays a `require` of node_modules, kept in the chunk that uses it.
  external: /^(?!better-sqlite3(\/|$))[@a-z]/,
  // Chunks that pull out a module without its imports (below) need this.
  preserveEntrySignatures: 'allow-extension',
  // `../config.js` is imported dynamically by `serve` and statically by the commands: expected.
  checks: { ineffectiveDynamicImport: false },
  plugins: [
    {
      // The server's entry as tsc compiles it, from the bundle's directory (kept as written).
      name: 'serve-from-dist',
      resolveId(source, importer) {
        if (source === './serve-command.js' && importer?.endsWith(`${sep}src${sep}cli${sep}cli.ts`)) {
          return { id: '../../src/cli/serve-command.js', external: true };
        }
        return null;
      },
    },
  ],
  output: {
    dir: 'dist/bundle/cli',
    // Three directories deep, as dist/src/cli/ is: package-version.ts finds package.json at ../../../.
    format: 'cjs',
    cleanDir: true,
    sourcemap: true,
    sourcemapExcludeSources: true,
    entryFileNames: '[name].cjs',
    chunkFileNames: '[name].cjs',
    codeSplitting: {
      groups: [
        // A driver and the OIDC verifier, each loaded only when configured (as in dist/src/).
        {
          name: 'postgres',
          test: inSrc('storage[\\\\/]postgres[\\\\/]'),
          priority: 3,
          includeDependenciesRecursively: false,
        },
        { name: 'oidc', test: inSrc('oidc[\\\\/]'), priority: 3, includeDependenciesRecursively: false },
        { name: 'cli', test: (id) => DISPATCH.some((p) => p.test(id)), priority: 2 },
        // Everything else but the entry: one file, whichever command runs.
        { name: 'commands', test: (id) => !id.endsWith('main.ts'), priority: 1 },
      ],
    },
  },
});
