import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { CofferCore } from '../core/coffer-core.js';
import { cloudflareFacade } from './cloudflare/cloudflare-facade.js';
import { consoleRoutes } from './console/console-routes.js';
import { envsFacade } from './envs/envs-facade.js';
import { healthRoutes } from './health-routes.js';
import { ProblemDetailsSchema } from './problem-details.js';
import { neostoreFacade } from './neostore/neostore-facade.js';
import { v1Facade } from './v1/v1-facade.js';
import { validatorCompiler } from './validation.js';

export interface AppDeps {
  readonly core: CofferCore;
  /** Readiness probe: resolves when the database answers. */
  readonly ping: () => Promise<void>;
  readonly logger: FastifyBaseLogger;
  readonly version: string;
  /** Where the envs facade is mounted (COFFER_ENVS_PREFIX); '' or absent: the server root. */
  readonly envsPrefix?: string;
}

/**
 * The one composition root of the HTTP side: every facade is a plugin over the same core.
 * Tests call this with their own parts; `coffer serve` with the real ones.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    genReqId: () => randomUUID(),
    // Long names must reach validation (400), not fall through the router as a 404.
    routerOptions: { maxParamLength: 8192 },
    bodyLimit: 1024 * 1024,
    // One line per request, at debug level, from the hook below; Fastify's two info lines per
    // request would cost throughput at the default level.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.decorateRequest('actor', null);
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
  app.setValidatorCompiler(validatorCompiler);

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
        description:
          'Self-hosted, multi-tenant secrets store. Native API: `/v1/tenants/{tenant}/stores…` (docs/native-api.md). Facades: Neostore (`/api`), Cloudflare Secrets Store (`/client/v4`), envs (`/{o}/{p}/envs/{envName}/secrets`, under `COFFER_ENVS_PREFIX` when set). Generated from the route schemas.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', name: 'X-API-KEY', in: 'header' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });

  // Shared by Neostore and /v1: registered once, so /openapi.json names it once.
  app.addSchema(ProblemDetailsSchema);
  await app.register(healthRoutes(deps.ping));
  await app.register(neostoreFacade(deps.core), { prefix: '/api' });
  await app.register(v1Facade(deps.core), { prefix: '/v1' });
  await app.register(cloudflareFacade(deps.core), { prefix: '/client/v4' });
  await app.register(envsFacade(deps.core), { prefix: deps.envsPrefix ?? '' });
  await app.register(consoleRoutes(), { prefix: '/ui' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
