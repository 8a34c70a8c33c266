import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { CofferCore } from '../core/coffer-core.js';
import { PrometheusMetrics } from '../metrics/prometheus-metrics.js';
import { cloudflareFacade } from './cloudflare/cloudflare-facade.js';
import { consoleRoutes } from './console/console-routes.js';
import { envsFacade } from './envs/envs-facade.js';
import { type FacadeDescriptor, FacadeRouting, installFacades } from './facade.js';
import { clientErrorHandler, frameworkErrorHandler } from './framework-errors.js';
import { healthRoutes } from './health-routes.js';
import { lingerOnEarlyAnswers } from './lingering-close.js';
import { type HttpMetrics, instrumentRequests, metricsRoute, withFacadeLabel } from './http-metrics.js';
import { sendRouteProblem } from './problem-details.js';
import { ProblemDetailsSchema } from './problem-details-schema.js';
import { RouteMethods } from './route-methods.js';
import { neostoreFacade } from './neostore/neostore-facade.js';
import { v1Facade } from './v1/v1-facade.js';
import { vaultFacade } from './vault/vault-facade.js';
import { LazySchemaCompilers } from './lazy-schema-compilers.js';
import { validatorCompiler } from './validation.js';

export interface AppDeps {
  readonly core: CofferCore;
  /** Readiness probe: resolves when the database answers. */
  readonly ping: () => Promise<void>;
  readonly logger: FastifyBaseLogger;
  readonly version: string;
  /** Where the envs facade is mounted (COFFER_ENVS_PREFIX); '' or absent: the server root. */
  readonly envsPrefix?: string;
  /**
   * The server's metrics, shared with the core and the repository (buildRuntime's `metrics`). Absent:
   * a registry of this app's own, with HTTP metrics only.
   */
  readonly metrics?: HttpMetrics;
  /** COFFER_METRICS_TOKEN: when set, `/metrics` needs it as a bearer token. */
  readonly metricsToken?: string | null;
  /** PEM certificate and key (COFFER_TLS_CERT, COFFER_TLS_KEY): serve HTTPS instead of HTTP. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | null;
  /** COFFER_TRUST_PROXY: whose X-Forwarded-For to believe for the client address (rate limits). */
  readonly trustProxy?: boolean | string;
  /**
   * Compile every route schema when the app becomes ready instead of on each route's first request
   * (src/http/lazy-schema-compilers.ts): a schema that cannot compile fails the start.
   */
  readonly compileSchemasAtStart?: boolean;
}

/**
 * Every API facade over the core: each folder exports its descriptor (src/http/facade.ts), and this
 * list is the only other place a facade is named. Order does not matter: errors raised before
 * routing go to the owner `FacadeRouting` finds from the facades' routes and prefixes.
 */
function facades(deps: AppDeps): readonly FacadeDescriptor[] {
  return [neostoreFacade, v1Facade, cloudflareFacade, vaultFacade, envsFacade(deps.envsPrefix ?? '')];
}

/**
 * The one composition root of the HTTP side: every facade is a plugin over the same core.
 * Tests call this with their own parts; `coffer serve` with the real ones.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const routing = new FacadeRouting(facades(deps));
  // The app that requests refused by the HTTP parser for their method are replayed through.
  let built: FastifyInstance | null = null;
  const schemas = new LazySchemaCompilers();
  const options = {
    schemaController: schemas.schemaController(),
    loggerInstance: deps.logger,
    genReqId: () => randomUUID(),
    // Long names must reach validation (400), not fall through the router as a 404.
    routerOptions: { maxParamLength: 8192 },
    bodyLimit: 1024 * 1024,
    // One line per request, at debug level, from the hook below; Fastify's two info lines per
    // request would cost throughput at the default level.
    logController: new LogController({ disableRequestLogging: true }),
    // Off unless configured: behind no proxy, X-Forwarded-For is whatever a client claims, and
    // the failed-authentication limit is per client address.
    trustProxy: deps.trustProxy ?? false,
    // Undecodable URLs and requests the HTTP parser refuses: answered in the owning facade's shape.
    frameworkErrors: frameworkErrorHandler(routing),
    clientErrorHandler: clientErrorHandler(deps.logger, routing, () => built),
  };
  // The routes never touch the raw server, so the HTTPS instance is used through the HTTP type.
  const app: FastifyInstance =
    deps.tls === undefined || deps.tls === null
      ? Fastify(options)
      : (Fastify({
          ...options,
          https: { cert: deps.tls.cert, key: deps.tls.key, minVersion: 'TLSv1.2' },
        }) as unknown as FastifyInstance);
  built = app;
  app.decorateRequest('actor', null);
  // Nothing Coffer answers is meant for a shared cache: values, tokens, key lists and metadata all
  // go out with no-store, whichever facade (or none) answers. Facades' error senders set it too.
  // nosniff: a value sent as text/plain must never be sniffed into HTML or script by a browser.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
  });
  // Answers sent before the body was read close the connection without a reset (docs/security.md).
  lingerOnEarlyAnswers(app);
  // Before the facades, so that its hooks apply to every one registered below.
  const metrics = deps.metrics ?? new PrometheusMetrics();
  instrumentRequests(app, metrics);
  if (deps.logger.level === 'debug' || deps.logger.level === 'trace') {
    // Registered only when it would log: at info and above, a request pays nothing for it.
    app.addHook('onResponse', async (request, reply) => {
      request.log.debug(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          remoteAddress: request.ip,
        },
        'request completed',
      );
    });
  }
  app.setValidatorCompiler(schemas.validator(validatorCompiler));
  // Before any route, so that every one is in the table the not-found handlers answer 405 from.
  RouteMethods.install(app);
  // Outside every facade's prefix (the root, /ui, the ops routes, paths of no envs shape): the
  // facade-neutral ProblemDetails, never Fastify's own `{message, error, statusCode}`.
  app.setNotFoundHandler(sendRouteProblem);

  await app.register(swagger, {
    // Components are named after their schema's $id (ProblemDetails, …), not def-0, def-1.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Coffer',
        version: deps.version,
        description: `Self-hosted, multi-tenant secrets store. APIs: ${routing.facades.map((f) => f.title).join('; ')}. Generated from the route schemas.`,
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', name: 'X-API-KEY', in: 'header' },
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'A Coffer token, or an OIDC access token (JWT) when COFFER_OIDC_ISSUER and COFFER_OIDC_AUDIENCE are set.',
          },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });

  // Shared by Neostore and /v1: registered once, so /openapi.json names it once.
  app.addSchema(ProblemDetailsSchema);
  await app.register(
    withFacadeLabel('ops', async (ops) => {
      await ops.register(healthRoutes(deps.ping));
      await ops.register(metricsRoute(metrics, deps.metricsToken ?? null));
      ops.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      // A person who opens the server's address in a browser lands in the console. 302, not 301:
      // browsers keep a 301 for good, and the root may mean something else in a later version.
      ops.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/', 302));
    }),
  );
  await installFacades(app, routing, { core: deps.core });
  // Not a facade: static files, no credential, no error shape of its own.
  await app.register(withFacadeLabel('console', consoleRoutes()), { prefix: '/ui' });
  if (deps.compileSchemasAtStart === true) {
    // onReady runs once every route's context, and so every wrapper, exists.
    app.addHook('onReady', async () => {
      schemas.compileAll();
    });
  }
  return app;
}
