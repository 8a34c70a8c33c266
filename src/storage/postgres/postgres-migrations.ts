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
];
