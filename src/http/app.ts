import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CofferCore } from '../core/coffer-core.js';
import { envsFacade } from './envs/envs-facade.js';
import { healthRoutes } from './health-routes.js';
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
  });
  app.decorateRequest('actor', null);
  app.setValidatorCompiler(validatorCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Coffer',
        version: deps.version,
        description:
          'Self-hosted, multi-tenant secrets store. Native API: `/v1/tenants/{tenant}/stores…` (docs/native-api.md). Facades: Neostore (`/api`), envs (`/{o}/{p}/envs/{envName}/secrets`, under `COFFER_ENVS_PREFIX` when set). Generated from the route schemas.',
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

  await app.register(healthRoutes(deps.ping));
  await app.register(neostoreFacade(deps.core), { prefix: '/api' });
  await app.register(v1Facade(deps.core), { prefix: '/v1' });
  await app.register(envsFacade(deps.core), { prefix: deps.envsPrefix ?? '' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
