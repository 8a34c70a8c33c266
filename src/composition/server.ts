import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { CreatedApiKey } from '../core/api-key-service.js';
import { bootstrapFirstAdminKey } from '../core/bootstrap.js';
import { buildApp } from '../http/app.js';
import type { HttpMetrics } from '../http/http-metrics.js';
import type { Runtime } from './runtime.js';
import { systemClock } from '../core/clock.js';
import { type WebhookMetrics, WebhookDispatcher } from '../webhooks/webhook-dispatcher.js';

export interface ServerOptions {
  readonly logger: FastifyBaseLogger;
  /** The runtime's metrics registry (buildRuntime's `metrics`), so `/metrics` shows the core's too. */
  readonly metrics?: HttpMetrics & WebhookMetrics;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  /**
   * Fastify's "Server listening" text, given the bound address and the first admin key when this
   * start created it: the one moment both are known, before anyone waiting for that line reads on.
   */
  readonly listenText?: (address: string, created: CreatedApiKey | null) => string;
  /** Compile every route schema before listening (buildApp's `compileSchemasAtStart`). */
  readonly compileSchemasAtStart?: boolean;
}

export interface StartedServer {
  readonly app: FastifyInstance;
  /** `http(s)://host:port` as bound (port 0 resolved). */
  readonly url: string;
  /** The first admin key, when this start created it (its token is in nobody's hands yet). */
  readonly created: CreatedApiKey | null;
}

/**
 * The server half of the composition root: bootstrap the first admin key if the data has none, build
 * the app over the runtime's core with the runtime's own configuration, and listen. `coffer serve`
 * and the tests' servers both start here, so a test server is the production server on a port of
 * its own. Closing: `app.close()`, then `runtime.close()` (the caller owns the runtime).
 */
export async function startServer(runtime: Runtime, options: ServerOptions): Promise<StartedServer> {
  const { config } = runtime;
  const created = await bootstrapFirstAdminKey(runtime.repository, runtime.core.apiKeys);
  const app = await buildApp({
    core: runtime.core,
    ping: () => runtime.repository.ping(),
    logger: options.logger,
    version: options.version,
    envsPrefix: config.envsPrefix,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    metricsToken: config.metricsToken,
    tls: config.tls,
    trustProxy: config.trustProxy,
    ...(options.compileSchemasAtStart === undefined
      ? {}
      : { compileSchemasAtStart: options.compileSchemasAtStart }),
  });
  // Webhook delivery, off the request path: it stops before the app's connections close.
  const dispatcher = new WebhookDispatcher({
    repository: runtime.repository,
    keyring: runtime.keyring,
    feed: runtime.core.changeFeed,
    clock: systemClock,
    options: {
      allowPrivate: config.webhooks.allowPrivate,
      timeoutMs: config.webhooks.timeoutMs,
      retryMs: config.webhooks.retrySeconds * 1000,
      backoffMs: config.webhooks.backoffMs,
      leaseMs: config.webhooks.leaseSeconds * 1000,
      userAgent: `Coffer-Webhooks/${options.version}`,
    },
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    onError: (error) =>
      options.logger.warn({ err: { message: (error as Error).message } }, 'webhook delivery'),
  });
  app.addHook('onClose', () => dispatcher.close());
  const { listenText } = options;
  try {
    await app.listen({
      host: options.host,
      port: options.port,
      ...(listenText === undefined
        ? {}
        : { listenTextResolver: (address: string) => listenText(address, created) }),
    });
  } catch (error) {
    await app.close();
    throw error;
  }
  dispatcher.start();
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('The server is not on a TCP port.');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls === null ? 'http' : 'https'}://${host}:${address.port}`;
  return { app, url, created };
}
