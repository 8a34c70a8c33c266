import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CofferCore } from '../core/coffer-core.js';
import { recordingRefusals, routeNotFound } from './audit-refusals.js';
import { authenticateRequests, type FacadeAuthentication } from './auth.js';
import { withFacadeLabel } from './http-metrics.js';
import type { RequestFailure } from './request-errors.js';

/** What a facade's routes are given: the one core every facade calls. */
export interface FacadeDeps {
  readonly core: CofferCore;
}

/** A failure as bytes on the wire, for requests Node's HTTP parser refused (no reply object exists). */
export interface RawFailure {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** How a facade renders every failure, in its own wire shape, through its one mapper. */
export interface FacadeErrors {
  /**
   * Fastify's error handler for the facade's routes: core errors, validation, bad JSON, unsupported
   * media types, oversized bodies, unknown routes (404) and methods (405), classified by
   * `classifyRequestError`. Also answers URLs that do not decode (no route ran, nothing is audited).
   */
  readonly handler: (error: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply;
  /** The same mapping as bytes, for requests refused before Fastify made a request of them. */
  readonly raw: (failure: RequestFailure) => RawFailure;
}

/**
 * Everything the server needs to know about one facade (docs/architecture.md, "Adding a facade").
 * `installFacades` applies what every facade shares (authentication, refusal auditing, not-found,
 * the metrics label) from this; the facade's folder only supplies its own parts.
 */
export interface FacadeDescriptor {
  /** The metrics `facade` label of every request it answers; a fixed word. */
  readonly name: string;
  /** Named in the OpenAPI description: what the facade is and where it lives. */
  readonly title: string;
  /** Where its routes are mounted; '' is the server root. */
  readonly prefix: string;
  /** How a request's credential is found, and whom each route serves. */
  readonly authentication: FacadeAuthentication;
  readonly errors: FacadeErrors;
  /**
   * Where an unknown route is answered in this facade's shape (authenticated and audited first):
   * `'prefix'`, everything under `prefix`; or only paths of these catch-all patterns (relative to
   * `prefix`), for a facade at the server root, whose not-found handler would answer for all others.
   */
  readonly notFound: 'prefix' | { readonly catchAll: readonly string[] };
  /**
   * Methods Node's HTTP parser refuses that the facade serves anyway, each as the GET it means:
   * from the request target as sent, the target to replay, or null where the method means nothing
   * (then the parser's refusal stands; src/http/refused-methods.ts). Vault: `LIST` of a metadata
   * path is `GET …?list=true`.
   */
  readonly refusedMethods?: Readonly<Record<string, (target: string) => string | null>>;
  /** Its schemas, body parsers and routes, registered inside its prefix (after the shared hooks). */
  readonly register: (app: FastifyInstance, deps: FacadeDeps) => Promise<void>;
}

type SegmentKind = 2 | 1 | 0;

interface OwnedRoute {
  readonly facade: FacadeDescriptor;
  readonly pattern: RegExp;
  /** Static 2, parameter 1, wildcard 0, per segment: the order the router tries them in. */
  readonly rank: readonly SegmentKind[];
}

function under(path: string, prefix: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

/** Whether `a` is tried before `b` by the router: static beats parameter beats wildcard, left first. */
function triedFirst(a: readonly SegmentKind[], b: readonly SegmentKind[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return a.length > b.length;
}

/**
 * Which facade owns a path, for answers given before any facade's plugin sees the request (URLs that
 * do not decode, request lines Node refuses). The router cannot be asked: it decodes first. So the
 * routes each facade registered are matched against the raw path, in the router's own order (this
 * keeps `/v1/tenants/envs/stores/…` with /v1 and `/v1/tenants/envs/dev/secrets` with envs, as the
 * router does); a path no route matches belongs to the longest prefix answering not-found, else to
 * no facade (the server's own ProblemDetails).
 */
export class FacadeRouting {
  readonly facades: readonly FacadeDescriptor[];
  readonly #routes: OwnedRoute[] = [];

  constructor(facades: readonly FacadeDescriptor[]) {
    const names = new Set(facades.map((f) => f.name));
    if (names.size !== facades.length) throw new Error('two facades have the same name');
    this.facades = facades;
  }

  /** Records a route as `facade`'s; `url` as Fastify reports it, prefix included. */
  add(facade: FacadeDescriptor, url: string): void {
    const segments = url.split('/').slice(1);
    const rank = segments.map((s): SegmentKind => (s.includes('*') ? 0 : s.includes(':') ? 1 : 2));
    const source = segments
      .map((s, i) =>
        rank[i] === 0 ? '.*' : rank[i] === 1 ? '[^/]*' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    const pattern = new RegExp(`^/${source}$`);
    if (this.#routes.some((r) => r.facade === facade && r.pattern.source === pattern.source)) return;
    this.#routes.push({ facade, pattern, rank });
  }

  /** The facade whose shape a request for `url` (path and query, not decoded) is answered in. */
  ownerOf(url: string): FacadeDescriptor | null {
    const path = url.split(/[?#]/, 1)[0] ?? '';
    let best: OwnedRoute | null = null;
    for (const route of this.#routes) {
      if (route.pattern.test(path) && (best === null || triedFirst(route.rank, best.rank))) best = route;
    }
    if (best !== null) return best.facade;
    let owner: FacadeDescriptor | null = null;
    for (const facade of this.facades) {
      if (facade.notFound !== 'prefix' || !under(path, facade.prefix)) continue;
      if (owner === null || facade.prefix.length > owner.prefix.length) owner = facade;
    }
    return owner;
  }
}

/**
 * Mounts every facade of `routing` at its prefix, with the hooks they all share, in this order:
 * the metrics label, the recording error handler over the facade's own renderer, the not-found
 * answer, and the one authentication hook (src/http/auth.ts) before any of its routes, unknown ones
 * included. A facade cannot leave one out: it supplies parts, not the wiring.
 */
export async function installFacades(
  app: FastifyInstance,
  routing: FacadeRouting,
  deps: FacadeDeps,
): Promise<void> {
  for (const facade of routing.facades) {
    const plugin = async (scope: FastifyInstance): Promise<void> => {
      scope.addHook('onRoute', (route) => routing.add(facade, route.url ?? route.path));
      scope.setErrorHandler(recordingRefusals(deps.core.auditTrail, facade.errors.handler));
      const notFound = async (request: FastifyRequest): Promise<never> => {
        throw routeNotFound(request);
      };
      if (facade.notFound === 'prefix') scope.setNotFoundHandler(notFound);
      authenticateRequests(scope, deps.core.auth, facade.authentication);
      await facade.register(scope, deps);
      if (facade.notFound !== 'prefix') {
        for (const path of facade.notFound.catchAll) scope.all(path, { schema: { hide: true } }, notFound);
      }
    };
    await app.register(withFacadeLabel(facade.name, plugin), { prefix: facade.prefix });
  }
}
