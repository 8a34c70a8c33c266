import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { openRuntime, type Runtime } from '../../src/cli/runtime.js';
import { packageVersion } from '../../src/cli/serve-command.js';
import { parseConfig } from '../../src/config.js';
import { OPERATOR } from '../../src/core/actor.js';
import { bootstrapFirstAdminKey } from '../../src/core/bootstrap.js';
import type { Clock } from '../../src/core/clock.js';
import { createCore } from '../../src/core/coffer-core.js';
import { buildApp } from '../../src/http/app.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { tempDir } from './temp-dir.js';

export interface TestServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly dataDir: string;
  /** Token of the bootstrap key `admin` (permission `*`) of tenant `default`. */
  readonly adminToken: string;
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  /** The server's own metrics registry (shared by the app, the core and the repository). */
  readonly metrics: PrometheusMetrics;
  /** Creates a key through the core as the operator (the tenant is created if new); returns its token. */
  createKey(tenant: string, name: string, permissions: string[]): Promise<string>;
  /** Creates a platform service credential; returns its token. */
  createService(name: string): Promise<string>;
  /** Stops listening and closes the database; removes the data directory unless `keepData`. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * A real Coffer on a random loopback port, over a real SQLite file in a temp directory (or `dataDir`).
 * `env` is parsed exactly as the server parses its environment.
 */
export async function startTestServer(
  options: { dataDir?: string; env?: Record<string, string>; clock?: Clock; defaultMetrics?: boolean } = {},
): Promise<TestServer> {
  const temp = options.dataDir === undefined ? tempDir() : null;
  const dataDir = options.dataDir ?? temp?.path ?? '';
  // Suites that sweep bad credentials over every route would trip the failed-authentication limit
  // (all their requests come from 127.0.0.1); test/hardening turns it on where it is the subject.
  const config = parseConfig({
    COFFER_AUTH_FAILURE_LIMIT: '0',
    ...options.env,
    COFFER_DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'silent',
  });
  // Default process metrics off: each registry would start its own collectors (event-loop monitor,
  // GC observer) and a test process starts many servers. test/observability turns them on.
  const metrics = new PrometheusMetrics({ defaultMetrics: options.defaultMetrics ?? false });
  const opened = await openRuntime(config, { metrics });
  const runtime: Runtime =
    options.clock === undefined
      ? opened
      : {
          ...opened,
          core: createCore({
            repository: opened.repository,
            keyring: opened.keyring,
            clock: options.clock,
            limits: { secretQuota: config.secretQuota, storeLimit: config.storeLimit },
            metrics,
            rateLimits: {
              authFailuresPerMinute: config.authFailureLimit,
              keyRequestsPerSecond: config.keyRateLimit,
            },
          }),
        };
  const created = await bootstrapFirstAdminKey(runtime.repository, runtime.core.apiKeys);
  const app = await buildApp({
    core: runtime.core,
    ping: () => runtime.repository.ping(),
    logger: pino({ level: 'silent' }),
    version: packageVersion(),
    envsPrefix: config.envsPrefix,
    metrics,
    metricsToken: config.metricsToken,
    trustProxy: config.trustProxy,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dataDir,
    adminToken: created?.token ?? '',
    runtime,
    app,
    metrics,
    async createKey(tenant, name, permissions) {
      return (await runtime.core.apiKeys.create(OPERATOR, tenant, { name, permissions })).token;
    },
    async createService(name) {
      return (await runtime.core.services.create(OPERATOR, name)).token;
    },
    async close(closeOptions = {}) {
      await app.close();
      await runtime.close();
      if (!closeOptions.keepData) temp?.remove();
    },
  };
}
