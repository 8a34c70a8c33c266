// The web console's build: `npm run build` runs it after tsc; Coffer serves the result at /ui.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  // Coffer serves the console under /ui (src/http/console/console-routes.ts).
  base: '/ui/',
  publicDir: 'public',
  // Vite 8 compiles TSX with oxc: Preact's automatic JSX runtime.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Modern browsers only: the preload polyfill would be dead code.
    modulePreload: { polyfill: false },
    // Never inline a file as a data: URL into scripts; the CSP allows data: only for images.
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  // `npx vite --config ui/vite.config.ts` for hot reload: the API calls go to a running Coffer.
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/api'].map((path) => [path, process.env.COFFER_URL ?? 'http://127.0.0.1:8080']),
    ),
  },
  logLevel: 'warn',
});
