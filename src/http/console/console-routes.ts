import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';

/** Where `npm run build` puts the console (Vite's output): `dist/ui`, next to `dist/src`. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

/**
 * The console's Content-Security-Policy: everything from this origin, nothing inline, nothing from
 * anywhere else, no framing. The console only ever talks to Coffer's own APIs (`connect-src 'self'`).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
}

/** Every file under `root`, keyed by its URL path below `/ui/` (`index.html`, `assets/index-abc.js`). */
function loadFiles(root: string): Map<string, StaticFile> | null {
  try {
    if (!statSync(join(root, 'index.html')).isFile()) return null;
  } catch {
    return null;
  }
  const files = new Map<string, StaticFile>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const path = relative(root, full).split(sep).join('/');
        files.set(path, {
          body: readFileSync(full),
          contentType: CONTENT_TYPES[extname(entry.name).toLowerCase()] ?? 'application/octet-stream',
          // Vite names what it emits under assets/ by content hash: such a URL never changes meaning.
          // index.html names those hashes, so it must never be cached; other files revalidate.
          cacheControl:
            path === 'index.html'
              ? 'no-store'
              : path.startsWith('assets/')
                ? 'public, max-age=31536000, immutable'
                : 'no-cache',
        });
      }
    }
  };
  walk(root);
  return files;
}

function send(reply: FastifyReply, file: StaticFile): FastifyReply {
  return reply
    .header('content-type', file.contentType)
    .header('cache-control', file.cacheControl)
    .send(file.body);
}

/**
 * The web console at `/ui` (register with `{ prefix: '/ui' }`): the Vite build read into memory once,
 * `index.html` for `/ui` and for any client-side route, and the strict headers on every answer.
 * Without a build (`tsc` alone), `/ui` answers a plain 503 that says how to get one.
 */
export function consoleRoutes(root: string = DEFAULT_CONSOLE_DIR): FastifyPluginAsyncTypebox {
  return async (app) => {
    const files = loadFiles(root);

    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      reply.header('cross-origin-opener-policy', 'same-origin');
      return payload;
    });

    const serve = async (path: string, reply: FastifyReply) => {
      if (files === null) {
        return reply
          .code(503)
          .header('content-type', 'text/plain; charset=utf-8')
          .header('cache-control', 'no-store')
          .send('The web console is not built. Run `npm run build` (or `npm ci`), then restart Coffer.\n');
      }
      const file = files.get(path);
      if (file !== undefined) return send(reply, file);
      // An asset that is not there (a stale or mistyped URL): a real 404, never index.html.
      return reply
        .code(404)
        .header('content-type', 'text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send('Not found\n');
    };

    // Explicit routes, no `/ui/*` catch-all: `ui` is also a valid tenant id, and the envs facade at
    // the server root must keep answering `/ui/{project}/envs/{env}/secrets…` (test/envs).
    // The client-side routes are those of ui/src/router.ts.
    const schema = { hide: true };
    const page = async (_request: unknown, reply: FastifyReply) => serve('index.html', reply);
    for (const path of ['/', '/stores', '/stores/:store', '/keys', '/webhooks', '/audit'])
      app.get(path, { schema }, page);
    // Any string: a name that is not a file of the build is the 404 below, never a validation error.
    const assetSchema = { ...schema, params: Type.Object({ file: Type.String() }) };
    app.get('/assets/:file', { schema: assetSchema }, async (request, reply) =>
      serve(`assets/${request.params.file}`, reply),
    );
    for (const path of files?.keys() ?? []) {
      if (path !== 'index.html' && !path.startsWith('assets/')) {
        app.get(`/${path}`, { schema }, async (_request, reply) => serve(path, reply));
      }
    }
  };
}
