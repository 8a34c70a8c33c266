import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config.js';
import type { AuditSink } from '../core/audit-trail.js';
import type { Clock } from '../core/clock.js';
import { type CofferCore, createCore } from '../core/coffer-core.js';
import type { MetricsSink } from '../core/metrics-sink.js';
import type { Keyring } from '../crypto/keyring.js';
import { type KeyringWatcher, loadKeyring } from '../crypto/keyring-source.js';
import { OidcVerifier } from '../oidc/oidc-verifier.js';
import { type DbTimer, InstrumentedRepository } from '../storage/instrumented-repository.js';
import { PostgresRepository } from '../storage/postgres/postgres-repository.js';
import type { Repository } from '../storage/repository.js';
import { SqliteRepository } from '../storage/sqlite/sqlite-repository.js';

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

/** PostgreSQL when COFFER_DATABASE_URL is set (schema migrated on the way), else SQLite in the data directory. */
export async function openRepository(config: Config): Promise<Repository> {
  if (config.databaseUrl !== null) return PostgresRepository.connect(config.databaseUrl);
  return SqliteRepository.open(join(config.dataDir, DATABASE_FILE));
}

export interface RuntimeOptions {
  /** The server's metrics: the core reports to it and every repository call is timed into it. */
  readonly metrics?: MetricsSink & DbTimer;
  /** Told when the OIDC identity provider cannot be reached (for the log). */
  readonly onIdentityProviderUnavailable?: (error: unknown) => void;
  /** Also receives every committed audit event (COFFER_AUDIT_STDOUT). */
  readonly auditSink?: AuditSink;
  /** The core's clock (validity windows, timestamps); absent: the system clock. Tests inject one. */
  readonly clock?: Clock;
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  // The data directory holds the SQLite file and the default key file; PostgreSQL with
  // COFFER_MASTER_KEY or a keyring file elsewhere needs neither.
  if (
    config.databaseUrl === null ||
    (config.masterKey === null && dirname(config.keyringFile) === config.dataDir)
  ) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  }
  const opened = await openRepository(config);
  const repository =
    options.metrics === undefined ? opened : new InstrumentedRepository(opened, options.metrics);
  try {
    const { keyring, watcher } = await loadKeyring({
      keyringFile: config.keyringFile,
      masterKey: config.masterKey,
      hasSealedValues: () => repository.hasSealedValues(),
      kekIdsInUse: () => repository.listKekIdsInUse(),
    });
    return {
      config,
      repository,
      keyring,
      keyringWatcher: watcher,
      core: createCore({
        repository,
        keyring,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        limits: { secretQuota: config.secretQuota, storeLimit: config.storeLimit },
        metrics: options.metrics,
        // Lazy: nothing is fetched until the first JWT, so the CLI pays nothing for it.
        bearerVerifier:
          config.oidc === null
            ? undefined
            : new OidcVerifier(config.oidc, { onUnavailable: options.onIdentityProviderUnavailable }),
        rateLimits: {
          authFailuresPerMinute: config.authFailureLimit,
          keyRequestsPerSecond: config.keyRateLimit,
        },
        ...(options.auditSink === undefined ? {} : { auditSink: options.auditSink }),
      }),
      close: () => repository.close(),
    };
  } catch (error) {
    await repository.close();
    throw error;
  }
}
