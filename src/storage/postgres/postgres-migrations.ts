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
];
