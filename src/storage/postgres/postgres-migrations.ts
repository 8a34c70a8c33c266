import type pg from 'pg';
import { classifyPgError, mapPgError } from './postgres-errors.js';

/**
 * PostgreSQL schema, forward only: a migration is never edited once released; add the next one.
 * Tables live in the connection's current schema (the first of `search_path`), never a named one.
 * Times are epoch milliseconds (BIGINT). Every text column is `COLLATE "C"` so that names compare,
 * sort and lower-case byte-wise/ASCII-only exactly as SQLite's BINARY collation does, whatever the
 * database's default locale. Lists (permissions, scopes) are TEXT[]: order-preserving, and `&&`
 * answers the "any of these scopes" filter with no JSON parsing.
 */
export const POSTGRES_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE tenants (
        id TEXT COLLATE "C" PRIMARY KEY,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE api_keys (
        tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
        name TEXT COLLATE "C" NOT NULL,
        token_hash BYTEA NOT NULL UNIQUE,
        token_prefix TEXT COLLATE "C" NOT NULL,
        enabled BOOLEAN NOT NULL,
        permissions TEXT[] COLLATE "C" NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, name)
      );
      CREATE TABLE stores (
        id TEXT COLLATE "C" PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
        name TEXT COLLATE "C" NOT NULL,
        managed_by TEXT COLLATE "C" NOT NULL DEFAULT '',
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (tenant_id, managed_by, name)
      );
      CREATE INDEX stores_tenant_created ON stores (tenant_id, created_at, id);
      CREATE TABLE secrets (
        id TEXT COLLATE "C" PRIMARY KEY,
        store_id TEXT COLLATE "C" NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
        name TEXT COLLATE "C" NOT NULL,
        description TEXT COLLATE "C",
        scopes TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
        not_before BIGINT,
        expires_on BIGINT,
        current_version INTEGER,
        latest_version INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (store_id, name)
      );
      CREATE INDEX secrets_store_created ON secrets (store_id, created_at, id);
      CREATE TABLE secret_versions (
        secret_id TEXT COLLATE "C" NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        kek_id TEXT COLLATE "C" NOT NULL,
        wrapped_key BYTEA NOT NULL,
        ciphertext BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (secret_id, version)
      );
      CREATE INDEX secret_versions_kek ON secret_versions (kek_id);
      CREATE TABLE service_credentials (
        name TEXT COLLATE "C" PRIMARY KEY,
        token_hash BYTEA NOT NULL UNIQUE,
        token_prefix TEXT COLLATE "C" NOT NULL,
        enabled BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE coffer_meta (
        key TEXT COLLATE "C" PRIMARY KEY,
        value TEXT COLLATE "C" NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'audit trail',
    // No foreign keys: events outlive the keys, stores and tenants they name. The platform chain is
    // tenant_id ''. audit_heads holds each chain's newest link: its row lock orders the writers of a
    // chain across nodes, and a deleted tail is noticed against it.
    sql: `
      CREATE TABLE audit_events (
        tenant_id TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        time BIGINT NOT NULL,
        actor TEXT COLLATE "C" NOT NULL,
        action TEXT COLLATE "C" NOT NULL,
        resource TEXT COLLATE "C" NOT NULL,
        outcome TEXT COLLATE "C" NOT NULL,
        reason TEXT COLLATE "C",
        request_id TEXT COLLATE "C" NOT NULL,
        client_address TEXT COLLATE "C" NOT NULL,
        prev_hash BYTEA NOT NULL,
        hash BYTEA NOT NULL,
        PRIMARY KEY (tenant_id, seq)
      );
      CREATE TABLE audit_heads (
        tenant_id TEXT COLLATE "C" PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'audit chains per writer',
    // ADR 0011. Each process appends to chains it alone owns, so no row is shared by the nodes that
    // audit one tenant: the key of an event is its chain (opaque id) and seq; tenant_id stays on
    // every event so a tenant's trail is the set of its chains. A chain written by schema 2 keeps its
    // tenant id as chain id (and canonical form 1), so it verifies unchanged. audit_chains replaces
    // audit_heads: one row per chain, with its owner.
    sql: `
      ALTER TABLE audit_events ADD COLUMN chain_id TEXT COLLATE "C";
      UPDATE audit_events SET chain_id = tenant_id;
      ALTER TABLE audit_events ALTER COLUMN chain_id SET NOT NULL;
      ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
      ALTER TABLE audit_events ADD PRIMARY KEY (chain_id, seq);
      CREATE INDEX audit_events_tenant_order ON audit_events (tenant_id, time, chain_id, seq);
      CREATE TABLE audit_chains (
        chain_id TEXT COLLATE "C" PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL,
        writer_id TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL
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
    // node (the signed copies live outside the database); audit_prune_points holds, per chain, the
    // newest pruned event (seq, hash) that the remaining events link from.
    sql: `
      CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY,
        hash TEXT COLLATE "C" NOT NULL,
        time BIGINT NOT NULL,
        line TEXT COLLATE "C" NOT NULL
      );
      CREATE TABLE audit_prune_points (
        chain_id TEXT COLLATE "C" PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL
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
        secret_id TEXT COLLATE "C" PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,
        max_versions INTEGER NOT NULL,
        cas_required BOOLEAN NOT NULL,
        custom_metadata TEXT COLLATE "C" NOT NULL
      );
      CREATE TABLE store_settings (
        store_id TEXT COLLATE "C" PRIMARY KEY REFERENCES stores(id) ON DELETE CASCADE,
        max_versions INTEGER NOT NULL,
        cas_required BOOLEAN NOT NULL
      );
      CREATE TABLE version_states (
        secret_id TEXT COLLATE "C" NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        deleted_at BIGINT,
        destroyed BOOLEAN NOT NULL,
        PRIMARY KEY (secret_id, version)
      );
    `,
  },
  {
    version: 6,
    name: 'issued tokens',
    // Tokens issued by a login (docs/adr/0015-issued-tokens-and-jwt-login.md); only their SHA-256.
    sql: `
      CREATE TABLE issued_tokens (
        token_hash BYTEA PRIMARY KEY,
        accessor TEXT COLLATE "C" NOT NULL UNIQUE,
        tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
        mount TEXT COLLATE "C" NOT NULL,
        role TEXT COLLATE "C" NOT NULL,
        subject TEXT COLLATE "C" NOT NULL,
        permissions TEXT[] COLLATE "C" NOT NULL,
        ttl_ms BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        max_expires_at BIGINT NOT NULL,
        renewed_at BIGINT
      );
      CREATE INDEX issued_tokens_expiry ON issued_tokens (expires_at);
    `,
  },
  {
    version: 7,
    name: 'webhooks',
    // As SQLite's version 7: the signing secret sealed, the feed cursor, the delivery lease.
    sql: `
      CREATE TABLE webhooks (
        id TEXT COLLATE "C" PRIMARY KEY,
        tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
        url TEXT COLLATE "C" NOT NULL,
        event_kinds TEXT[] COLLATE "C" NOT NULL,
        stores TEXT[] COLLATE "C" NOT NULL,
        enabled BOOLEAN NOT NULL,
        secret_kek_id TEXT COLLATE "C" NOT NULL,
        secret_wrapped_key BYTEA NOT NULL,
        secret_ciphertext BYTEA NOT NULL,
        secret_version INTEGER NOT NULL,
        feed_cursor TEXT COLLATE "C" NOT NULL,
        last_delivery BIGINT NOT NULL DEFAULT 0,
        lease_owner TEXT COLLATE "C",
        lease_until BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at, id);
      CREATE TABLE webhook_deliveries (
        webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        n BIGINT NOT NULL,
        event_id TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        store TEXT COLLATE "C" NOT NULL,
        payload TEXT COLLATE "C" NOT NULL,
        status TEXT COLLATE "C" NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT COLLATE "C",
        last_status INTEGER,
        next_attempt_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (webhook_id, n)
      );
      CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, status, store, n);
      CREATE INDEX webhook_deliveries_store ON webhook_deliveries (webhook_id, store, n);
    `,
  },
  {
    version: 8,
    name: 'store secret counts',
    // As SQLite's version 8: the secret quota's count kept per store by a trigger, in the transaction
    // that inserts or deletes the secret. The count(*) it replaces ran under the tenant's lock on every
    // create, so a tenant with a million secrets created about one secret per 100 ms.
    sql: `
      CREATE TABLE store_secret_counts (
        store_id TEXT COLLATE "C" PRIMARY KEY REFERENCES stores(id) ON DELETE CASCADE,
        secrets BIGINT NOT NULL
      );
      -- Nodes still on schema 7 keep writing during a rolling upgrade: no secret may be inserted or
      -- deleted between the count below and the triggers (held to COMMIT; about a second a million).
      LOCK TABLE secrets IN SHARE ROW EXCLUSIVE MODE;
      INSERT INTO store_secret_counts (store_id, secrets)
        SELECT store_id, count(*) FROM secrets GROUP BY store_id;
      CREATE FUNCTION coffer_count_secrets() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
          UPDATE store_secret_counts SET secrets = secrets - 1 WHERE store_id = OLD.store_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
          INSERT INTO store_secret_counts (store_id, secrets) VALUES (NEW.store_id, 1)
            ON CONFLICT (store_id) DO UPDATE SET secrets = store_secret_counts.secrets + 1;
        END IF;
        RETURN NULL;
      END
      $$;
      -- The schema it was made in, whoever fires it (another tool may use another search_path).
      ALTER FUNCTION coffer_count_secrets() SET search_path FROM CURRENT;
      CREATE TRIGGER secrets_counted AFTER INSERT OR DELETE ON secrets
        FOR EACH ROW EXECUTE FUNCTION coffer_count_secrets();
      CREATE TRIGGER secrets_counted_on_move AFTER UPDATE OF store_id ON secrets
        FOR EACH ROW WHEN (NEW.store_id IS DISTINCT FROM OLD.store_id) EXECUTE FUNCTION coffer_count_secrets();
    `,
  },
];

/** advisory-lock class for migrations; the object id is the schema's hash, so schemas migrate independently. */
const MIGRATION_LOCK_CLASS = 0x436f66; // "Cof"

/** Brings the schema up to date, one node at a time; refuses a database newer than this Coffer. */
export async function migrate(pool: pg.Pool): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw mapPgError(error);
  }
  let failed: unknown;
  try {
    await client.query('BEGIN');
    const schema = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s;
    if (schema === null || schema === undefined) {
      throw new Error('PostgreSQL: no schema of the search_path exists; create it or fix search_path.');
    }
    // Held until COMMIT: nodes starting together migrate one after another, each seeing the last's work.
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [
      MIGRATION_LOCK_CLASS,
    ]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const applied = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    const known = Math.max(0, ...POSTGRES_MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new Error(
        `The database schema (version ${newest}) is newer than this Coffer knows (${known}); upgrade Coffer.`,
      );
    }
    for (const m of POSTGRES_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        Date.now(),
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw mapPgError(error);
  } finally {
    client.release(failed !== undefined && classifyPgError(failed) !== 'other');
  }
}
