import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config.js';
import { AuditAnchoring, type CheckpointSink } from '../core/audit-anchoring.js';
import { AuditService } from '../core/audit-service.js';
import { anchorSigner } from '../crypto/anchor-key.js';
import { fileCheckpointSink, streamCheckpointSink } from './checkpoint-sinks.js';
import { type AuditSink, AuditTrail } from '../core/audit-trail.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type CofferCore, createCore } from '../core/coffer-core.js';
import type { MetricsSink } from '../core/metrics-sink.js';
import type { Keyring } from '../crypto/keyring.js';
import { type KeyringWatcher, loadKeyring } from '../crypto/keyring-source.js';
import { type DbTimer, InstrumentedRepository } from '../storage/instrumented-repository.js';
import type { Repository } from '../core/ports/repository.js';
import type { ChangeSignals } from '../core/ports/change-signals.js';
import type { FileSync, SqliteRepositoryOptions } from '../storage/sqlite/sqlite-repository.js';

export const DATABASE_FILE = 'coffer.db';

/** Everything a command needs, opened from one config: the server and the CLI share this path. */
export interface Runtime {
  readonly config: Config;
  readonly repository: Repository;
  readonly keyring: Keyring;
  /** Follows the keyring file (master-key rotation); null when the key comes from COFFER_MASTER_KEY. */
  readonly keyringWatcher: KeyringWatcher | null;
  readonly core: CofferCore;
  close(): Promise<void>;
}

/** Data that a reading command needs and does not find: it says where it looked, and creates nothing. */
export class NoDataError extends Error {}

/**
 * PostgreSQL when COFFER_DATABASE_URL is set (schema migrated on the way), else SQLite in the data
 * directory. Each driver is loaded only when used: the CLI's start-up time is the price of every command.
 */
export async function openRepository(
  config: Config,
  options: SqliteRepositoryOptions = {},
): Promise<Repository> {
  if (config.databaseUrl !== null) {
    const { PostgresRepository } = await import('../storage/postgres/postgres-repository.js');
    return PostgresRepository.connect(config.databaseUrl);
  }
  const { SqliteRepository } = await import('../storage/sqlite/sqlite-repository.js');
  return SqliteRepository.open(join(config.dataDir, DATABASE_FILE), options);
}

/** Refuses, naming the directory, when there is no SQLite database to read (PostgreSQL always has one). */
export function assertDataExists(config: Config): void {
  if (config.databaseUrl === null && !existsSync(join(config.dataDir, DATABASE_FILE))) {
    throw new NoDataError(
      `no Coffer data in ${config.dataDir}: run the command where the server's data directory is, set COFFER_DATA_DIR, or set COFFER_URL and COFFER_TOKEN (or \`coffer login\`) for a server.`,
    );
  }
}

/**
 * The runtime of a reading command: refuses, instead of creating, a missing database or key file.
 */
export async function buildExistingRuntime(config: Config): Promise<Runtime> {
  assertDataExists(config);
  return buildRuntime(config, { createKeyring: false });
}

export interface RuntimeOverrides {
  /** The server's metrics: the core reports to it and every repository call is timed into it. */
  readonly metrics?: MetricsSink & DbTimer;
  /** Told when the OIDC identity provider cannot be reached (for the log). */
  readonly onIdentityProviderUnavailable?: (error: unknown) => void;
  /** Also receives every committed audit event (COFFER_AUDIT_STDOUT). */
  readonly auditSink?: AuditSink;
  /** The core's clock (validity windows, timestamps); absent: the system clock. Tests inject one. */
  readonly clock?: Clock;
  /** False for reading commands: a missing key file is an error instead of a new key (default true). */
  readonly createKeyring?: boolean;
  /**
   * True for the server: on PostgreSQL, listen for other nodes' changes (one more connection) so
   * that change streams hear them at once; without it the change feed polls (ADR 0016).
   */
  readonly listenForChanges?: boolean;
  /**
   * SQLite: how the WAL is made durable after each COMMIT (default: fs.fsync on the threadpool).
   * Tests inject one that holds the sync, to show that no answer leaves before it completes.
   */
  readonly syncWal?: FileSync;
  /** SQLite: WAL checkpoints on a worker thread, off the event loop (the server; a CLI command: no). */
  readonly checkpointInWorker?: boolean;
}

export async function buildRuntime(config: Config, options: RuntimeOverrides = {}): Promise<Runtime> {
  // The data directory holds the SQLite file and the default key file; PostgreSQL with
  // COFFER_MASTER_KEY or a keyring file elsewhere needs neither. A reading command creates neither.
  if (
    options.createKeyring !== false &&
    (config.databaseUrl === null ||
      (config.masterKey === null && dirname(config.keyringFile) === config.dataDir))
  ) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  }
  const opened = await openRepository(config, {
    ...(options.syncWal === undefined ? {} : { syncWal: options.syncWal }),
    ...(options.checkpointInWorker === undefined ? {} : { checkpointInWorker: options.checkpointInWorker }),
  });
  const repository =
    options.metrics === undefined ? opened : new InstrumentedRepository(opened, options.metrics);
  let signals: ChangeSignals | undefined;
  try {
    if (options.listenForChanges === true && config.databaseUrl !== null) {
      const { PostgresChangeListener } = await import('../storage/postgres/postgres-change-listener.js');
      const listener = new PostgresChangeListener(config.databaseUrl);
      await listener.start();
      signals = listener;
    }
    const { keyring, watcher } = await loadKeyring({
      keyringFile: config.keyringFile,
      masterKey: config.masterKey,
      hasSealedValues: () => repository.hasSealedValues(),
      kekIdsInUse: () => repository.listKekIdsInUse(),
      mayCreate: options.createKeyring ?? true,
    });
    const core = createCore({
      repository,
      keyring,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      limits: { secretQuota: config.secretQuota, storeLimit: config.storeLimit },
      metrics: options.metrics,
      // Loaded only when configured, and lazy: nothing is fetched until the first JWT.
      bearerVerifier:
        config.oidc === null
          ? undefined
          : new (await import('../oidc/oidc-verifier.js')).OidcVerifier(config.oidc, {
              onUnavailable: options.onIdentityProviderUnavailable,
            }),
      rateLimits: {
        authFailuresPerMinute: config.authFailureLimit,
        keyRequestsPerSecond: config.keyRateLimit,
      },
      ...(options.auditSink === undefined ? {} : { auditSink: options.auditSink }),
      ...(signals === undefined ? {} : { changeSignals: signals }),
      changePollMs: config.watch.pollMs,
      watchLimits: { perTenant: config.watch.perTenant, perKey: config.watch.perKey },
      watchHeartbeatMs: config.watch.heartbeatMs,
      webhooksAllowPrivate: config.webhooks.allowPrivate,
      ...(config.jwtAuth === null
        ? {}
        : {
            jwtLogin: {
              mounts: config.jwtAuth.mounts,
              verifier: new (await import('../oidc/jwt-login-verifier.js')).JwtLoginVerifier(
                config.jwtAuth,
                options.onIdentityProviderUnavailable,
              ),
            },
          }),
    });
    return {
      config,
      repository,
      keyring,
      keyringWatcher: watcher,
      core,
      close: async () => {
        core.changeFeed.close();
        await signals?.close();
        await repository.close();
      },
    };
  } catch (error) {
    await signals?.close();
    await repository.close();
    throw error;
  }
}

/**
 * The signed checkpoints of the audit chains, when COFFER_AUDIT_ANCHOR_KEY is set: signed with that
 * key, shipped to the anchors file and, when `stdout` is given (the server with
 * COFFER_AUDIT_ANCHOR_STDOUT, the CLI always), to it; `extraSinks` are any others.
 */
export function buildAuditAnchoring(
  config: Config,
  repository: Repository,
  options: { stdout?: NodeJS.WritableStream; extraSinks?: readonly CheckpointSink[]; clock?: Clock } = {},
): AuditAnchoring | null {
  const anchors = config.auditAnchors;
  if (anchors === null) return null;
  const sinks: CheckpointSink[] = [];
  if (anchors.file !== null) sinks.push(fileCheckpointSink(anchors.file));
  if (options.stdout !== undefined) sinks.push(streamCheckpointSink('stdout', options.stdout));
  sinks.push(...(options.extraSinks ?? []));
  return new AuditAnchoring({
    repository,
    signer: anchorSigner(anchors.privateKey),
    sinks,
    clock: options.clock ?? systemClock,
    retentionMs: config.auditRetentionMs,
  });
}

/** What `coffer audit …` needs: the trail, without the keyring (no key reads a hash chain). */
export interface AuditRuntime {
  readonly audit: AuditService;
  /** Null without COFFER_AUDIT_ANCHOR_KEY. */
  readonly anchoring: AuditAnchoring | null;
  close(): Promise<void>;
}

/** The audit half of the runtime, over existing data only: creates no database and no key file. */
export async function buildAuditRuntime(
  config: Config,
  options: { stdout?: NodeJS.WritableStream } = {},
): Promise<AuditRuntime> {
  assertDataExists(config);
  const repository = await openRepository(config);
  return {
    audit: new AuditService({ repository, audit: new AuditTrail({ repository, clock: systemClock }) }),
    anchoring: buildAuditAnchoring(config, repository, options),
    close: () => repository.close(),
  };
}
