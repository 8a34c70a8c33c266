import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { AuditSink } from '../core/audit-trail.js';
import { type CofferCore, createCore } from '../core/coffer-core.js';
import type { Keyring } from '../crypto/keyring.js';
import { loadKeyring } from '../crypto/keyring-source.js';
import { PostgresRepository } from '../storage/postgres/postgres-repository.js';
import type { Repository } from '../storage/repository.js';
import { SqliteRepository } from '../storage/sqlite/sqlite-repository.js';

export const DATABASE_FILE = 'coffer.db';

/** Everything a command needs, opened from one config: the server and the CLI share this path. */
export interface Runtime {
  readonly config: Config;
  readonly repository: Repository;
  readonly keyring: Keyring;
  readonly core: CofferCore;
  close(): Promise<void>;
}

/** PostgreSQL when COFFER_DATABASE_URL is set (schema migrated on the way), else SQLite in the data directory. */
export async function openRepository(config: Config): Promise<Repository> {
  if (config.databaseUrl !== null) return PostgresRepository.connect(config.databaseUrl);
  return SqliteRepository.open(join(config.dataDir, DATABASE_FILE));
}

export async function openRuntime(config: Config, options: { auditSink?: AuditSink } = {}): Promise<Runtime> {
  // The data directory holds the SQLite file and the key file; PostgreSQL with COFFER_MASTER_KEY needs neither.
  if (config.databaseUrl === null || config.masterKey === null) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  }
  const repository = await openRepository(config);
  try {
    const { keyring } = await loadKeyring({
      dataDir: config.dataDir,
      masterKey: config.masterKey,
      hasSealedValues: () => repository.hasSealedValues(),
      kekIdsInUse: () => repository.listKekIdsInUse(),
    });
    return {
      config,
      repository,
      keyring,
      core: createCore({
        repository,
        keyring,
        limits: { secretQuota: config.secretQuota, storeLimit: config.storeLimit },
        ...(options.auditSink === undefined ? {} : { auditSink: options.auditSink }),
      }),
      close: () => repository.close(),
    };
  } catch (error) {
    await repository.close();
    throw error;
  }
}
