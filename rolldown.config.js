// The `coffer` command as a few CommonJS files (`npm run build:cli`, part of `npm run build`), which
// bin/coffer.js runs. Every `coffer run` starts a program, so start-up time is paid on each one: loading
// ~50 ES modules one by one (resolution, an async graph) cost more than the work of a local run
// (BENCHMARKS.md, "CLI start-up"). `coffer serve` runs from the bundle too: a server's cold start is a
// target of its own (issue 15: ≤ 1 s), and loading the server's ~200 ES modules one by one was about
// half of it. The unbundled dist/src/ stays: it is the library (`coffer`, `coffer/client`), and what
// the tests import.
import { dirname, join, relative, resolve, sep } from 'node:path';
import { defineConfig } from 'rolldown';

const ROOT = import.meta.dirname;
const OUT_DIR = join(ROOT, 'dist', 'bundle', 'cli');

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

/**
 * Modules of the server alone; the commands chunk must not need them: a `coffer run` loads none
 * (`/v1`'s views are the local commands' too).
 */
const NOT_SERVER = inSrc('http[\\\\/]v1[\\\\/]v1-views\\.ts$');
const SERVER = [
  inSrc('(http|metrics|webhooks)[\\\\/]'),
  inSrc('cli[\\\\/](serve-command|readable-log)\\.ts$'),
  inSrc('composition[\\\\/](server|anchor-cadence)\\.ts$'),
  // Only the routes' schemas use TypeBox; the "everything else" group below would take it otherwise.
  /[\\/]node_modules[\\/]typebox[\\/]/,
];

export default defineConfig({
  input: { coffer: 'src/cli/main.ts' },
  platform: 'node',
  // better-sqlite3's JavaScript is bundled (its native addon is loaded by path:
  // src/storage/sqlite/sqlite-connection.ts), and so are the two ES-module-only packages, which a
  // CommonJS bundle could only `require()` on Node 20.19 and later (package.json says >= 20): TypeBox,
  // ~700 small files that Node loaded one by one on every server start (a quarter of a second
  // here), and jose (OIDC, JWT login). Every other package stays a `require` of node_modules, kept
  // in the chunk that uses it.
  external: /^(?!(better-sqlite3|typebox|jose)(\/|$))[@a-z]/,
  // Chunks that pull out a module without its imports (below) need this.
  preserveEntrySignatures: 'allow-extension',
  // `../config.js` is imported dynamically by `serve` and statically by the commands: expected.
  checks: { ineffectiveDynamicImport: false },
  plugins: [
    {
      // Files found relative to a module (`new URL('…', import.meta.url)`: the console's build, the
      // checkpoint worker, package.json) are found from the bundle's directory where tsc's output
      // would find them from dist/src/: the same files, the worker still its own module.
      name: 'urls-from-dist',
      transform(code, id) {
        const srcDir = join(ROOT, 'src') + sep;
        if (!id.startsWith(srcDir) || !code.includes('import.meta.url')) return null;
        const compiled = join(ROOT, 'dist', 'src', relative(srcDir, id)).replace(/\.ts$/, '.js');
        const rebased = code.replace(
          /new URL\((['"])(\.{1,2}\/[^'"]*)\1,\s*import\.meta\.url\)/g,
          (_, quote, rel) => {
            const target = resolve(dirname(compiled), rel);
            let fromBundle = relative(OUT_DIR, target).split(sep).join('/');
            if (!fromBundle.startsWith('.')) fromBundle = `./${fromBundle}`;
            if (rel.endsWith('/')) fromBundle += '/';
            return `new URL(${quote}${fromBundle}${quote}, import.meta.url)`;
          },
        );
        return rebased === code ? null : { code: rebased, map: null };
      },
    },
  ],
  output: {
    dir: 'dist/bundle/cli',
    // Three directories deep, as dist/src/cli/ is (the `urls-from-dist` plugin rebases the rest).
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
        {
          name: 'oidc',
          test: (id) => inSrc('oidc[\\\\/]').test(id) || /[\\/]node_modules[\\/]jose[\\/]/.test(id),
          priority: 3,
          includeDependenciesRecursively: false,
        },
        // What only `coffer serve` loads: HTTP, metrics, the webhook worker and the server's wiring.
        {
          name: 'server',
          test: (id) => SERVER.some((p) => p.test(id)) && !NOT_SERVER.test(id),
          priority: 3,
          includeDependenciesRecursively: false,
        },
        { name: 'cli', test: (id) => DISPATCH.some((p) => p.test(id)), priority: 2 },
        // Everything else but the entry: one file, whichever command runs.
        { name: 'commands', test: (id) => !id.endsWith('main.ts'), priority: 1 },
      ],
    },
  },
});
