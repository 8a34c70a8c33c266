import pino from 'pino';
import type { Config } from '../config.js';
import { auditEventView } from '../core/audit-service.js';
import type { AuditSink } from '../core/audit-trail.js';
import type { FastifyInstance } from 'fastify';
import type { CreatedApiKey } from '../core/api-key-service.js';
import { startServer } from '../composition/server.js';
import { PrometheusMetrics } from '../metrics/prometheus-metrics.js';
import { KEYRING_CHECK_MS } from '../crypto/keyring-source.js';
import { readableLogStream } from './readable-log.js';
import { packageVersion } from './package-version.js';
import { buildAuditAnchoring, buildRuntime } from '../composition/runtime.js';
import { type AnchorCadenceLog, startAnchorCadence } from '../composition/anchor-cadence.js';

export { packageVersion };

/** Logs never carry credentials: these paths are censored wherever a serializer might reach them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-auth-key"]',
  'req.headers.cookie',
];

/** Where a person on this machine reaches the server: a wildcard bind is reached through loopback. */
export function reachableUrl(listening: string): string {
  return listening.replace(/^(https?:\/\/)(0\.0\.0\.0|\[::\])(:\d+)$/, '$1127.0.0.1$3');
}

/**
 * What the first start prints (stdout, never the log): the token once, and everything needed to use
 * it at once (docs/decisions.md, "First start"). The recovery command names the same data: it is run
 * on this machine with the server's own environment, where file access is the credential; from a
 * `checkout` (started by `npm start`) it is `cd CHECKOUT && … npx coffer …`, which runs there.
 */
export function bootstrapBanner(
  created: { tenantId: string; name: string; token: string },
  url: string,
  config: Pick<Config, 'dataDir' | 'databaseUrl' | 'masterKey'>,
  checkout: string | null = null,
): string {
  const rule = '='.repeat(78);
  const where =
    config.databaseUrl === null
      ? [`  Data directory:  ${config.dataDir}`]
      : [`  Data directory:  ${config.dataDir} (keyring); the data is in PostgreSQL (COFFER_DATABASE_URL)`];
  const env = [
    // The data directory holds the database (SQLite) or the keyring file (no COFFER_MASTER_KEY).
    config.databaseUrl === null || config.masterKey === null
      ? `COFFER_DATA_DIR=${shellWord(config.dataDir)}`
      : null,
    config.databaseUrl === null ? null : 'COFFER_DATABASE_URL=…',
    config.masterKey === null ? null : 'COFFER_MASTER_KEY=…',
  ].filter((v): v is string => v !== null);
  return [
    rule,
    `  Coffer created tenant '${created.tenantId}' with the admin API key '${created.name}' (permission *).`,
    '  This token is shown ONCE and cannot be recovered. Store it somewhere safe now:',
    '',
    `    ${created.token}`,
    '',
    `  Console:         ${url}/ui/`,
    ...where,
    '',
    '  Use it from a shell (the CLI and the client read these):',
    '',
    `    export COFFER_URL=${url}`,
    `    export COFFER_TOKEN=${created.token}`,
    '',
    '  Over HTTP: `X-API-KEY: <token>` or `Authorization: Bearer <token>`.',
    '  Lost it? On this machine, with the same data, make a new admin key (it prints its token):',
    '',
    `    ${[
      ...(checkout === null ? [] : [`cd ${shellWord(checkout)} &&`]),
      ...env,
      checkout === null ? 'coffer keys create' : 'npx coffer keys create',
      `--tenant ${created.tenantId}`,
      `--name ${created.name}-2`,
      "--permission '*'",
    ].join(' ')}`,
    '',
    rule,
    '',
  ].join('\n');
}

/**
 * The checkout `coffer serve` was started from by `npm start` (or another npm script of this
 * package), where `coffer` is not on PATH but `npx coffer` runs this checkout's; null otherwise.
 */
export function npmCheckout(env: NodeJS.ProcessEnv, cwd: string): string | null {
  return env['npm_lifecycle_event'] !== undefined && env['npm_package_name'] === 'coffer' ? cwd : null;
}

/** A path as one shell word: bare when it is plainly safe, single-quoted otherwise. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@%+,-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

export { KEYRING_CHECK_MS };

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** `coffer serve`: open the data, bootstrap the first key if needed, listen, and stop cleanly. */
export async function serve(config: Config, out: NodeJS.WritableStream): Promise<void> {
  const options = { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  const terminal = (out as { isTTY?: boolean }).isTTY === true;
  // JSON for log pipelines (and `| pino-pretty`), a readable line per entry on a terminal.
  const readable = config.logFormat === 'pretty' || (config.logFormat === 'auto' && terminal);
  const logger = readable ? pino(options, readableLogStream(out, terminal)) : pino(options);
  const metrics = new PrometheusMetrics();
  // COFFER_AUDIT_STDOUT: only the server streams events; the CLI's stdout stays for its own output.
  const auditSink: AuditSink = (events) => {
    for (const e of events) out.write(`${JSON.stringify({ type: 'audit', ...auditEventView(e) })}\n`);
  };
  const runtime = await buildRuntime(config, {
    metrics,
    checkpointInWorker: true,
    onIdentityProviderUnavailable: (error) =>
      // The message names the failing URL or status; never the token being verified.
      logger.warn({ err: { message: (error as Error).message } }, 'OIDC identity provider unavailable'),
    ...(config.auditStdout ? { auditSink } : {}),
    listenForChanges: true,
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
  // Signed checkpoints of the audit chains (docs/audit.md, "Anchors"): every interval, and a last
  // one on a clean stop, which covers every event this process wrote (none with interval 0: on
  // demand only).
  const anchoring = buildAuditAnchoring(
    config,
    runtime.repository,
    config.auditAnchors?.stdout ? { stdout: out } : {},
  );
  const anchorLog: AnchorCadenceLog = {
    written: (checkpoint, pruned) => {
      logger.info(
        { checkpoint: checkpoint.seq, chains: checkpoint.chains.length },
        'audit checkpoint written',
      );
      if (pruned !== null && pruned.events > 0) {
        logger.info(
          { events: pruned.events, chains: pruned.chains.length },
          'audit events pruned behind the checkpoint',
        );
      }
      for (const r of pruned?.refused ?? []) {
        logger.warn(
          { chain: r.chainId, problem: r.problem },
          'audit chain not pruned: it does not verify up to the checkpoint',
        );
      }
    },
    failed: (error: unknown) =>
      logger.error(
        { err: { message: error instanceof Error ? error.message : String(error) } },
        'audit checkpoint failed',
      ),
  };
  const cadence =
    anchoring === null
      ? null
      : startAnchorCadence(anchoring, config.auditAnchors?.intervalMs ?? 0, anchorLog);
  if (config.tls === null && !isLoopbackHost(config.host)) {
    logger.warn(
      { host: config.host },
      'listening beyond loopback without TLS: tokens and values cross the network in clear text; set COFFER_TLS_CERT and COFFER_TLS_KEY or terminate TLS in front of Coffer',
    );
  }

  let app: FastifyInstance | null = null;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    if (keyringTimer !== null) clearInterval(keyringTimer);
    try {
      await app?.close();
      await cadence?.stop();
      if (anchoring !== null && (config.auditAnchors?.intervalMs ?? 0) > 0) {
        try {
          const last = await anchoring.checkpoint();
          anchorLog.written(last, null);
        } catch (error) {
          anchorLog.failed(error);
        }
      }
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

  // Printed, not logged: a token must never reach a log pipeline. Written from Fastify's listening
  // text, the one moment the bound address (PORT=0) is known and the "Server listening" line not yet
  // out: whoever waits for that line finds the banner complete above it.
  let bannerDue = true;
  const listenText = (address: string, created: CreatedApiKey | null): string => {
    if (bannerDue && created !== null) {
      bannerDue = false;
      out.write(
        bootstrapBanner(created, reachableUrl(address), config, npmCheckout(process.env, process.cwd())),
      );
    }
    return `Server listening at ${address}`;
  };
  try {
    app = (
      await startServer(runtime, {
        logger,
        metrics,
        version: packageVersion(),
        host: config.host,
        port: config.port,
        listenText,
      })
    ).app;
  } catch (error) {
    if (keyringTimer !== null) clearInterval(keyringTimer);
    await cadence?.stop();
    await runtime.close();
    throw error;
  }
}
