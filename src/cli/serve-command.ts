import pino from 'pino';
import type { Config } from '../config.js';
import { auditEventView } from '../core/audit-service.js';
import type { AuditSink } from '../core/audit-trail.js';
import { bootstrapFirstAdminKey } from '../core/bootstrap.js';
import { buildApp } from '../http/app.js';
import { PrometheusMetrics } from '../metrics/prometheus-metrics.js';
import { KEYRING_CHECK_MS } from '../crypto/keyring-source.js';
import { packageVersion } from './package-version.js';
import { openRuntime } from './runtime.js';

export { packageVersion };

/** Logs never carry credentials: these paths are censored wherever a serializer might reach them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-auth-key"]',
  'req.headers.cookie',
];

function bootstrapBanner(tenant: string, keyName: string, token: string): string {
  const rule = '='.repeat(78);
  return [
    rule,
    `  Coffer created tenant '${tenant}' with the admin API key '${keyName}' (permission *).`,
    '  This token is shown ONCE and cannot be recovered. Store it somewhere safe now:',
    '',
    `    ${token}`,
    '',
    '  Use it as `X-API-KEY: <token>` or `Authorization: Bearer <token>`.',
    rule,
    '',
  ].join('\n');
}

export { KEYRING_CHECK_MS };

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** `coffer serve`: open the data, bootstrap the first key if needed, listen, and stop cleanly. */
export async function serve(config: Config, out: NodeJS.WritableStream): Promise<void> {
  const logger = pino({ level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
  const metrics = new PrometheusMetrics();
  // COFFER_AUDIT_STDOUT: only the server streams events; the CLI's stdout stays for its own output.
  const auditSink: AuditSink = (events) => {
    for (const e of events) out.write(`${JSON.stringify({ type: 'audit', ...auditEventView(e) })}\n`);
  };
  const runtime = await openRuntime(config, {
    metrics,
    onIdentityProviderUnavailable: (error) =>
      // The message names the failing URL or status; never the token being verified.
      logger.warn({ err: { message: (error as Error).message } }, 'OIDC identity provider unavailable'),
    ...(config.auditStdout ? { auditSink } : {}),
  });
  const created = await bootstrapFirstAdminKey(runtime.repository, runtime.core.apiKeys);
  const app = await buildApp({
    core: runtime.core,
    ping: () => runtime.repository.ping(),
    logger,
    version: packageVersion(),
    envsPrefix: config.envsPrefix,
    metrics,
    metricsToken: config.metricsToken,
    tls: config.tls,
    trustProxy: config.trustProxy,
  });

  // Master-key rotation (docs/operations.md): follow the keyring file, so a key added or activated
  // by `coffer master-key` (or copied in by configuration management) is used without a restart.
  const watcher = runtime.keyringWatcher;
  let keyringTimer: NodeJS.Timeout | null = null;
  if (watcher !== null) {
    watcher.listener = (event) => {
      if ('error' in event) logger.warn({ reason: event.error }, 'keyring file changed but cannot be read');
      else logger.info({ keyIds: event.ids, activeKeyId: event.active }, 'keyring reloaded');
    };
    keyringTimer = setInterval(() => watcher.check(), KEYRING_CHECK_MS);
    keyringTimer.unref();
  }
  if (config.tls === null && !isLoopbackHost(config.host)) {
    logger.warn(
      { host: config.host },
      'listening beyond loopback without TLS: tokens and values cross the network in clear text; set COFFER_TLS_CERT and COFFER_TLS_KEY or terminate TLS in front of Coffer',
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    if (keyringTimer !== null) clearInterval(keyringTimer);
    try {
      await app.close();
      await runtime.close();
      logger.info('stopped');
      logger.flush?.();
      process.exit(0);
    } catch (error) {
      logger.error({ err: { message: (error as Error).message } }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  // Printed, not logged: a token must never reach a log pipeline.
  if (created !== null) out.write(bootstrapBanner(created.tenantId, created.name, created.token));
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await runtime.close();
    throw error;
  }
}
