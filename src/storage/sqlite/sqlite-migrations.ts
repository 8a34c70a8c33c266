import type { Db } from './sqlite-connection.js';
import {
  fillKeySlots,
  KEY_SLOT_READS_AND_SHREDDING,
  KEY_SLOT_TABLES,
  WEBHOOK_KEY_SLOT_READS_AND_SHREDDING,
} from './sqlite-key-slots.js';

/**
 * SQLite schema, forward only: a migration is never edited once released; add the next one.
 * Times are epoch milliseconds. Names compare and sort byte-wise (BINARY collation).
 */
export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** What SQL alone cannot do, run after `sql` in the same transaction. */
  readonly run?: (db: Db) => void;
}

/** Set by a migration whose old layout may have left sealed bytes in free space: VACUUM after it. */
const VACUUM_OWED = 'vacuum_owed';

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE api_keys (
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        token_prefix TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        permissions TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, name)
      );
      CREATE TABLE stores (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        managed_by TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (tenant_id, managed_by, name)
      );
      CREATE TABLE secrets (
        id TEXT PRIMARY KEY,
        store_id TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT,
        scopes TEXT NOT NULL DEFAULT '[]',
        not_before INTEGER,
        expires_on INTEGER,
        current_version INTEGER,
        latest_version INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (store_id, name)
      );
      CREATE TABLE secret_versions (
        secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        kek_id TEXT NOT NULL,
        wrapped_key BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (secret_id, version)
      ) WITHOUT ROWID;
      CREATE INDEX secret_versions_kek ON secret_versions (kek_id);
      CREATE INDEX secrets_store_created ON secrets (store_id, created_at, id);
      CREATE TABLE service_credentials (
        name TEXT PRIMARY KEY,
        token_hash BLOB NOT NULL UNIQUE,
        token_prefix TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE coffer_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'audit trail',
    // No foreign keys: events outlive the keys, stores and tenants they name. The platform chain is
    // tenant_id ''. audit_heads holds each chain's newest link, so a deleted tail is noticed too.
    sql: `
      CREATE TABLE audit_events (
        tenant_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        request_id TEXT NOT NULL,
        client_address TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (tenant_id, seq)
      ) WITHOUT ROWID;
      CREATE TABLE audit_heads (
        tenant_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'audit chains per writer',
    // ADR 0011. Each process appends to chains it alone owns, so the key of an event is its chain
    // (opaque id) and seq; tenant_id stays on every event so a tenant's trail is the set of its
    // chains. A chain written by schema 2 keeps its tenant id as chain id (and canonical form 1), so
    // it verifies unchanged. audit_chains replaces audit_heads: one row per chain, with its owner.
    sql: `
      CREATE TABLE audit_events_v3 (
        chain_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        tenant_id TEXT NOT NULL,
        time INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        request_id TEXT NOT NULL,
        client_address TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (chain_id, seq)
      ) WITHOUT ROWID;
      INSERT INTO audit_events_v3 (chain_id, seq, tenant_id, time, actor, action, resource, outcome,
          reason, request_id, client_address, prev_hash, hash)
        SELECT tenant_id, seq, tenant_id, time, actor, action, resource, outcome, reason, request_id,
          client_address, prev_hash, hash FROM audit_events;
      DROP TABLE audit_events;
      ALTER TABLE audit_events_v3 RENAME TO audit_events;
      CREATE INDEX audit_events_tenant_order ON audit_events (tenant_id, time, chain_id, seq);
      CREATE TABLE audit_chains (
        chain_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        writer_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL
      );
      INSERT INTO audit_chains (chain_id, tenant_id, writer_id, seq, hash)
        SELECT tenant_id, tenant_id, '', seq, hash FROM audit_heads;
      DROP TABLE audit_heads;
      CREATE INDEX audit_chains_tenant ON audit_chains (tenant_id, chain_id);
    `,
  },
  {
    version: 4,
    name: 'audit anchors',
    // docs/adr/0013-audit-anchors.md. audit_checkpoints numbers the signed checkpoints across every
    // process (the signed copies live outside the database); audit_prune_points holds, per chain, the
    // newest pruned event (seq, hash) that the remaining events link from.
    sql: `
      CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        time INTEGER NOT NULL,
        line TEXT NOT NULL
      );
      CREATE TABLE audit_prune_points (
        chain_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'version states and settings',
    // docs/adr/0014-vault-facade.md: a version's soft delete or destruction, a secret's settings
    // (max versions, cas required, custom metadata as a JSON object of strings) and a store's defaults.
    sql: `
      CREATE TABLE secret_settings (
        secret_id TEXT PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,
        max_versions INTEGER NOT NULL,
        cas_required INTEGER NOT NULL,
        custom_metadata TEXT NOT NULL
      );
      CREATE TABLE store_settings (
        store_id TEXT PRIMARY KEY REFERENCES stores(id) ON DELETE CASCADE,
        max_versions INTEGER NOT NULL,
        cas_required INTEGER NOT NULL
      );
      CREATE TABLE version_states (
        secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        deleted_at INTEGER,
        destroyed INTEGER NOT NULL,
        PRIMARY KEY (secret_id, version)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    name: 'issued tokens',
    // Tokens issued by a login (docs/adr/0015-issued-tokens-and-jwt-login.md); only their SHA-256.
    sql: `
      CREATE TABLE issued_tokens (
        token_hash BLOB PRIMARY KEY,
        accessor TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        mount TEXT NOT NULL,
        role TEXT NOT NULL,
        subject TEXT NOT NULL,
        permissions TEXT NOT NULL,
        ttl_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        max_expires_at INTEGER NOT NULL,
        renewed_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX issued_tokens_expiry ON issued_tokens (expires_at);
    `,
  },
  {
    version: 7,
    name: 'webhooks',
    // The signing secret is sealed (envelope encryption): three columns, never plaintext. `cursor` is
    // the change-feed position already copied into the delivery log; the lease keeps one node
    // delivering a webhook at a time. Version 7 is this feature's (numbers are reserved per feature).
    sql: `
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        url TEXT NOT NULL,
        event_kinds TEXT NOT NULL,
        stores TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        secret_kek_id TEXT NOT NULL,
        secret_wrapped_key BLOB NOT NULL,
        secret_ciphertext BLOB NOT NULL,
        secret_version INTEGER NOT NULL,
        feed_cursor TEXT NOT NULL,
        last_delivery INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at, id);
      CREATE TABLE webhook_deliveries (
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        store TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        last_status INTEGER,
        next_attempt_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (webhook_id, n)
      ) WITHOUT ROWID;
      CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, status, store, n);
      CREATE INDEX webhook_deliveries_store ON webhook_deliveries (webhook_id, store, n);
    `,
  },
  {
    version: 8,
    name: 'store secret counts',
    // The secret quota's count, kept by triggers in the transaction that inserts or deletes a secret,
    // so that every path (each facade, the CLI, bulk creates, a store's deletion) counts alike. It
    // replaced a count(*) over the tenant's secrets on every create: O(secrets) on the event loop,
    // 120 ms a create with a million (docs/decisions.md, "The secret quota's count"). Per store, not
    // per tenant: a trigger then needs no lookup of the store, which a store's own deletion removes.
    // PostgreSQL's version 8 is the same.
    sql: `
      CREATE TABLE store_secret_counts (
        store_id TEXT PRIMARY KEY REFERENCES stores(id) ON DELETE CASCADE,
        secrets INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO store_secret_counts (store_id, secrets)
        SELECT store_id, count(*) FROM secrets GROUP BY store_id;
      CREATE TRIGGER secrets_counted_on_insert AFTER INSERT ON secrets BEGIN
        INSERT INTO store_secret_counts (store_id, secrets) VALUES (NEW.store_id, 1)
          ON CONFLICT (store_id) DO UPDATE SET secrets = secrets + 1;
      END;
      CREATE TRIGGER secrets_counted_on_delete AFTER DELETE ON secrets BEGIN
        UPDATE store_secret_counts SET secrets = secrets - 1 WHERE store_id = OLD.store_id;
      END;
      CREATE TRIGGER secrets_counted_on_move AFTER UPDATE OF store_id ON secrets
        WHEN NEW.store_id IS NOT OLD.store_id BEGIN
        UPDATE store_secret_counts SET secrets = secrets - 1 WHERE store_id = OLD.store_id;
        INSERT INTO store_secret_counts (store_id, secrets) VALUES (NEW.store_id, 1)
          ON CONFLICT (store_id) DO UPDATE SET secrets = secrets + 1;
      END;
    `,
  },
  {
    version: 9,
    name: 'wrapped keys in key slots',
    // docs/adr/0008-deletion-leaves-no-ciphertext.md: a version's wrapped data key moves out of its
    // row (which b-tree balancing may copy into free space) into a slot of an overflow page, which
    // deleting the version zeroes. The table is rebuilt without the column, and the database is
    // VACUUMed once after (VACUUM_OWED) so that no copy of a key from the old layout is left.
    // Webhooks' signing secrets move into slots too.
    // PostgreSQL has no version 9: this is about SQLite's file layout.
    sql: `
      ${KEY_SLOT_TABLES}
      CREATE TABLE secret_versions_next (
        secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        kek_id TEXT NOT NULL,
        key_slot INTEGER NOT NULL,
        key_len INTEGER NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (secret_id, version)
      ) WITHOUT ROWID;
    `,
    run(db) {
      const page = db.prepare(
        `SELECT secret_id, version, kek_id, wrapped_key, ciphertext, created_at FROM secret_versions
          WHERE (secret_id, version) > (?, ?) ORDER BY secret_id, version LIMIT 992`,
      );
      const insert = db.prepare(
        `INSERT INTO secret_versions_next (secret_id, version, kek_id, key_slot, key_len, ciphertext, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      let after: [string, number] = ['', 0];
      for (;;) {
        const rows = page.all(...after) as {
          secret_id: string;
          version: number;
          kek_id: string;
          wrapped_key: Buffer;
          ciphertext: Buffer;
          created_at: number;
        }[];
        const last = rows.at(-1);
        if (last === undefined) break;
        const slots = fillKeySlots(
          db,
          rows.map((r) => r.wrapped_key),
        );
        rows.forEach((r, i) =>
          insert.run(
            r.secret_id,
            r.version,
            r.kek_id,
            slots[i],
            r.wrapped_key.length,
            r.ciphertext,
            r.created_at,
          ),
        );
        after = [last.secret_id, last.version];
      }
      db.exec(`
        DROP TABLE secret_versions;
        ALTER TABLE secret_versions_next RENAME TO secret_versions;
        CREATE INDEX secret_versions_kek ON secret_versions (kek_id);
        ${KEY_SLOT_READS_AND_SHREDDING}
      `);
      // Webhooks' signing secrets the same way: their rows are rewritten on every delivery, so
      // they move more than any.
      const hooks = db.prepare('SELECT id, secret_wrapped_key FROM webhooks ORDER BY id').all() as {
        id: string;
        secret_wrapped_key: Buffer;
      }[];
      db.exec(`
        ALTER TABLE webhooks ADD COLUMN secret_key_slot INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE webhooks ADD COLUMN secret_key_len INTEGER NOT NULL DEFAULT 0;
      `);
      const hookSlots = fillKeySlots(
        db,
        hooks.map((h) => h.secret_wrapped_key),
      );
      const placeHook = db.prepare(
        'UPDATE webhooks SET secret_key_slot = ?, secret_key_len = ? WHERE id = ?',
      );
      hooks.forEach((h, i) => placeHook.run(hookSlots[i], h.secret_wrapped_key.length, h.id));
      db.exec(`
        ALTER TABLE webhooks DROP COLUMN secret_wrapped_key;
        ${WEBHOOK_KEY_SLOT_READS_AND_SHREDDING}
      `);
      db.prepare('INSERT OR REPLACE INTO coffer_meta (key, value) VALUES (?, ?)').run(VACUUM_OWED, '9');
    },
  },
];

/**
 * How long a process waits for another's migration (its write lock, or the VACUUM after it) before
 * giving up: a migration of a large database takes longer than the 5 s of everyday writes (migration
 * 9 and its VACUUM: about 16 s for 300,000 versions here).
 */
const MIGRATION_BUSY_TIMEOUT_MS = 10 * 60_000;

/** Brings the schema up to date; refuses a database newer than this Coffer. */
export function migrate(db: Db): void {
  const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma(`busy_timeout = ${MIGRATION_BUSY_TIMEOUT_MS}`);
  try {
    migrateWaiting(db);
  } finally {
    db.pragma(`busy_timeout = ${busyTimeout}`);
  }
}

function migrateWaiting(db: Db): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  // IMMEDIATE takes the write lock first, so two processes starting together migrate once.
  db.exec('BEGIN IMMEDIATE');
  try {
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    const known = Math.max(0, ...SQLITE_MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new Error(
        `The database schema (version ${newest}) is newer than this Coffer knows (${known}); upgrade Coffer.`,
      );
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      m.run?.(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  vacuumIfOwed(db);
}

/**
 * Rewrites every page of the database when a migration asked for it: a VACUUM builds the file anew,
 * so no free space keeps bytes of the old layout, then the WAL that held the old pages is cut. Owed
 * until done, so a crash in between redoes it at the next open.
 */
function vacuumIfOwed(db: Db): void {
  const owed = () =>
    db.prepare('SELECT value FROM coffer_meta WHERE key = ?').pluck().get(VACUUM_OWED) !== undefined;
  if (!owed()) return;
  // Another process that opened the database at the same time may be rewriting it now: wait for its
  // write lock, then look again (at worst both rewrite it, one after the other).
  db.exec('BEGIN IMMEDIATE');
  const still = owed();
  db.exec('COMMIT');
  if (!still) return;
  db.exec('VACUUM');
  db.prepare('DELETE FROM coffer_meta WHERE key = ?').run(VACUUM_OWED);
  // Cut now unless another process is reading; else the next scrub (ADR 0008) cuts it.
  db.pragma('wal_checkpoint(TRUNCATE)');
}
