import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { NotFoundError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route's path pattern and methods, for 405 answers (`Allow`) from the not-found handlers. */
    routeMethods: RouteMethods;
  }
}

/**
 * Which methods a concrete path has, from the routes as registered. Fastify answers a known path with
 * an unknown method through the not-found handler, like an unknown path; this tells the two apart
 * so that the handler can answer 405 with `Allow` (RFC 9110 §15.5.6) instead of 404.
 *
 * Catch-all routes (a `*` in the pattern, such as envs' `/:o/:p/envs/*`, which only exists to answer
 * in envs' shape) are not paths that exist, and are left out.
 */
export class RouteMethods {
  readonly #routes: { readonly pattern: RegExp; readonly methods: Set<string> }[] = [];

  add(method: HTTPMethods | HTTPMethods[], url: string): void {
    if (url.includes('*') || url.includes('(')) return;
    const source = url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const existing = this.#routes.find((r) => r.pattern.source === `^${source}$`);
    const methods = existing?.methods ?? new Set<string>();
    for (const m of Array.isArray(method) ? method : [method]) {
      methods.add(m.toUpperCase());
      // Fastify answers HEAD for every GET route.
      if (m.toUpperCase() === 'GET') methods.add('HEAD');
    }
    if (existing === undefined) this.#routes.push({ pattern: new RegExp(`^${source}$`), methods });
  }

  /** The methods `path` (no query string) has, sorted; empty when no route has that path. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const r of this.#routes) if (r.pattern.test(path)) for (const m of r.methods) methods.add(m);
    return [...methods].sort();
  }

  /** Registers the table on the root instance, fed by every route registered after this call. */
  static install(app: FastifyInstance): RouteMethods {
    const table = new RouteMethods();
    app.decorate('routeMethods', table);
    app.addHook('onRoute', (route) => {
      const url = route.url ?? route.path;
      table.add(route.method, url);
      // A plugin's `/` is served at its prefix with and without the trailing slash, and Fastify
      // reports the second form only for the HEAD route it derives.
      if (route.prefix !== '' && url === route.prefix) table.add(route.method, `${url}/`);
    });
    return table;
  }
}

/** The methods the request's path has, when it has some but not the one asked: a 405. */
export function methodsAllowedFor(request: FastifyRequest): string[] | null {
  const path = request.url.split('?', 1)[0] ?? '';
  const allowed = request.server.routeMethods.allowed(path);
  return allowed.length > 0 && !allowed.includes(request.method) ? allowed : null;
}

/**
 * The path exists, but not with this method: each facade's mapper answers 405 with `Allow` (in its
 * own shape) instead of 404. A not-found kind for the core's closed set: it is audited and counted
 * like an unknown route, which to the caller it nearly is.
 */
export class MethodNotAllowedError extends NotFoundError {
  readonly allow: readonly string[];
  constructor(method: string, allow: readonly string[]) {
    super('method_not_allowed', `${method} is not allowed here; this path takes ${allow.join(', ')}.`);
    this.allow = allow;
  }
}
