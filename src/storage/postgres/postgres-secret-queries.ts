import { KEK_IDS_IN_USE_SQL } from '../kek-ids-in-use-sql.js';
import { UnavailableError } from '../../core/errors.js';
import type {
  NamePage,
  NamePageQuery,
  SecretListQuery,
  SecretPage,
  SecretRecord,
  SecretValueRow,
  VersionCursor,
  VersionRecord,
  WrappedKeyRow,
} from '../../core/model.js';
import type { SecretReads, SecretWrites } from '../../core/ports/secrets.js';
import type { PostgresConnection } from './postgres-connection.js';
import { namePage } from './postgres-name-page.js';
import {
  str,
  num,
  numOrNull,
  blob,
  bool,
  toSecret,
  toVersion,
  VERSION_COLUMNS,
  SECRET_COLUMNS,
} from './postgres-rows.js';

const ORDER_COLUMNS: Record<SecretListQuery['order'], string> = {
  name: 'name',
  comment: "coalesce(description, '')",
  created: 'created_at',
  modified: 'updated_at',
  // Every listed secret with a value is active and one without is pending: order by that.
  status: '(current_version IS NULL)',
};

/** A secret by name or id; inside a transaction, row-locked until COMMIT (see getSecret). */
async function secretBy(
  conn: PostgresConnection,
  column: 'name' | 'id',
  storeId: string,
  key: string,
): Promise<SecretRecord | null> {
  const locked = conn.inTransaction;
  const row = await conn.one(
    `coffer_get_secret_by_${column}${locked ? '_locked' : ''}`,
    `SELECT ${SECRET_COLUMNS} FROM secrets WHERE store_id = $1 AND ${column} = $2${locked ? ' FOR UPDATE' : ''}`,
    [storeId, key],
  );
  return row ? toSecret(row) : null;
}

/**
 * Secrets, their versions and the versions' wrapped data keys: the port of src/core/ports/secrets.ts
 * on one PostgreSQL connection.
 */
export function postgresSecretQueries(conn: PostgresConnection): SecretReads & SecretWrites {
  const queries: SecretReads & SecretWrites = {
    /**
     * Inside a transaction a secret is read FOR UPDATE: what a write decides from it (a precondition
     * such as If-Match, the current version) holds until it commits. Without the lock, READ COMMITTED
     * let ten concurrent `If-Match: "1"` writers all see version 1 and all succeed (test/v1, on
     * PostgreSQL); with it, each waits for the one before and then reads what it committed.
     */
    async getSecret(storeId: string, name: string): Promise<SecretRecord | null> {
      return secretBy(conn, 'name', storeId, name);
    },
    async getSecretById(storeId: string, id: string): Promise<SecretRecord | null> {
      return secretBy(conn, 'id', storeId, id);
    },
    async listSecrets(storeId: string, q: SecretListQuery): Promise<SecretPage> {
      const values: unknown[] = [storeId];
      const where = ['store_id = $1'];
      if (q.search !== undefined && q.search !== '') {
        values.push(q.search);
        const p = `$${values.length}`;
        // Columns are COLLATE "C", so lower() folds ASCII only: the same matches as SQLite's lower().
        where.push(
          `(strpos(lower(name), lower(${p} COLLATE "C")) > 0 OR strpos(lower(coalesce(description, '')), lower(${p} COLLATE "C")) > 0)`,
        );
      }
      if (q.namePrefix !== undefined && q.namePrefix !== '') {
        values.push(q.namePrefix);
        where.push(`starts_with(name, $${values.length})`);
      }
      if (q.scopes !== undefined && q.scopes.length > 0) {
        values.push([...q.scopes]);
        where.push(`scopes && $${values.length}::text[]`);
      }
      const filter = where.join(' AND ');
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      values.push(q.limit, q.offset);
      // The total comes from the same statement (one snapshot), computed before LIMIT applies.
      const rows = await conn.all(
        null,
        `SELECT ${SECRET_COLUMNS}, count(*) OVER () AS total FROM secrets WHERE ${filter}
          ORDER BY ${ORDER_COLUMNS[q.order]} ${dir}, id ${dir}
          LIMIT $${values.length - 1} OFFSET $${values.length}`,
        values,
      );
      const first = rows[0];
      if (first !== undefined) return { items: rows.map(toSecret), total: num(first, 'total') };
      // A page past the end holds no row to carry the total.
      const total = await conn.count(
        null,
        `SELECT count(*) AS n FROM secrets WHERE ${filter}`,
        values.slice(0, -2),
      );
      return { items: [], total };
    },
    async listSecretsByName(storeId: string, q: NamePageQuery): Promise<NamePage<SecretRecord>> {
      const rows = await namePage(conn, 'secrets', SECRET_COLUMNS, 'store_id = $1', [storeId], q);
      return { items: rows.slice(0, q.limit).map(toSecret), more: rows.length > q.limit };
    },
    async countSecretsInStore(storeId: string): Promise<number> {
      return conn.count(
        'coffer_count_secrets_in_store',
        'SELECT count(*) AS n FROM secrets WHERE store_id = $1',
        [storeId],
      );
    },
    async countSecretsInTenant(tenantId: string): Promise<number> {
      await conn.lockTenant(tenantId);
      return conn.count(
        'coffer_count_secrets_in_tenant',
        // The trigger's counts (migration 8): one row per store of the tenant, not one per secret.
        `SELECT coalesce(sum(c.secrets), 0)::bigint AS n FROM stores st
           JOIN store_secret_counts c ON c.store_id = st.id WHERE st.tenant_id = $1`,
        [tenantId],
      );
    },
    async getVersion(secretId: string, version: number): Promise<VersionRecord | null> {
      const row = await conn.one(
        'coffer_get_version',
        `SELECT ${VERSION_COLUMNS} FROM secret_versions WHERE secret_id = $1 AND version = $2`,
        [secretId, version],
      );
      return row ? toVersion(row) : null;
    },
    async listSecretNamesWithValue(storeId: string): Promise<string[]> {
      const rows = await conn.all(
        'coffer_list_secret_names_with_value',
        'SELECT name FROM secrets WHERE store_id = $1 AND current_version IS NOT NULL ORDER BY name',
        [storeId],
      );
      return rows.map((r) => str(r, 'name'));
    },
    async getCurrentValue(
      tenantId: string,
      storeName: string,
      secretName: string,
    ): Promise<SecretValueRow | null> {
      const row = await conn.one(
        'coffer_get_current_value',
        `SELECT st.id AS store_id, s.id AS secret_id, s.not_before, s.expires_on,
                v.version, v.kek_id, v.wrapped_key, v.ciphertext
           FROM stores st
           JOIN secrets s ON s.store_id = st.id AND s.name = $3
           JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version
          WHERE st.tenant_id = $1 AND st.managed_by = '' AND st.name = $2`,
        [tenantId, storeName, secretName],
      );
      if (row === null) return null;
      return {
        storeId: str(row, 'store_id'),
        secretId: str(row, 'secret_id'),
        version: num(row, 'version'),
        notBefore: numOrNull(row, 'not_before'),
        expiresOn: numOrNull(row, 'expires_on'),
        sealed: {
          kekId: str(row, 'kek_id'),
          wrappedKey: blob(row, 'wrapped_key'),
          ciphertext: blob(row, 'ciphertext'),
        },
      };
    },
    async listVersions(secretId: string): Promise<VersionRecord[]> {
      const rows = await conn.all(
        'coffer_list_versions',
        `SELECT ${VERSION_COLUMNS} FROM secret_versions WHERE secret_id = $1 ORDER BY version`,
        [secretId],
      );
      return rows.map(toVersion);
    },
    async hasSealedValues(): Promise<boolean> {
      const row = await conn.one(
        'coffer_has_sealed_values_v7',
        // Webhooks' signing secrets are sealed too (src/core/webhooks/webhook-secret.ts).
        'SELECT EXISTS (SELECT 1 FROM secret_versions) OR EXISTS (SELECT 1 FROM webhooks) AS x',
        [],
      );
      return row !== null && bool(row, 'x');
    },
    async listKekIdsInUse(): Promise<string[]> {
      const rows = await conn.all('coffer_list_kek_ids_in_use_v8', KEK_IDS_IN_USE_SQL);
      return rows.map((r) => str(r, 'kek_id'));
    },
    async listWrappedKeys(
      kekId: string,
      after: VersionCursor | null,
      limit: number,
    ): Promise<WrappedKeyRow[]> {
      // Row-value comparison walks the (secret_id, version) primary key; '' sorts first under "C".
      const rows = await conn.all(
        'coffer_list_wrapped_keys',
        `SELECT st.tenant_id, s.store_id, v.secret_id, v.version, v.kek_id, v.wrapped_key
           FROM secret_versions v
           JOIN secrets s ON s.id = v.secret_id
           JOIN stores st ON st.id = s.store_id
          WHERE v.kek_id = $1 AND (v.secret_id, v.version) > ($2, $3)
          ORDER BY v.secret_id, v.version
          LIMIT $4`,
        [kekId, after?.secretId ?? '', after?.version ?? 0, limit],
      );
      return rows.map((row) => ({
        tenantId: str(row, 'tenant_id'),
        storeId: str(row, 'store_id'),
        secretId: str(row, 'secret_id'),
        version: num(row, 'version'),
        kekId: str(row, 'kek_id'),
        wrappedKey: blob(row, 'wrapped_key'),
      }));
    },
    async insertSecret(s: SecretRecord): Promise<boolean> {
      const n = await conn.changes(
        'coffer_insert_secret',
        `INSERT INTO secrets (${SECRET_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
        [
          s.id,
          s.storeId,
          s.name,
          s.description,
          [...s.scopes],
          s.notBefore,
          s.expiresOn,
          s.currentVersion,
          s.latestVersion,
          s.createdAt,
          s.updatedAt,
        ],
      );
      return n === 1;
    },
    async updateSecretMetadata(
      secretId: string,
      patch: { description: string | null; scopes: readonly string[]; updatedAt: number },
    ): Promise<void> {
      await conn.executor.run(
        'coffer_update_secret_metadata',
        'UPDATE secrets SET description = $1, scopes = $2, updated_at = $3 WHERE id = $4',
        [patch.description, [...patch.scopes], patch.updatedAt, secretId],
      );
    },
    async allocateVersion(secretId: string): Promise<number> {
      // The row lock taken here orders concurrent writers of one secret: a linear history, no gaps.
      const row = await conn.one(
        'coffer_allocate_version',
        'UPDATE secrets SET latest_version = latest_version + 1 WHERE id = $1 RETURNING latest_version',
        [secretId],
      );
      if (row === null) {
        // Reachable when another node deleted the secret after the caller read it.
        throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
      }
      return num(row, 'latest_version');
    },
    async insertVersion(v: VersionRecord): Promise<void> {
      await conn.executor.run(
        'coffer_insert_version',
        `INSERT INTO secret_versions (secret_id, version, kek_id, wrapped_key, ciphertext, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [v.secretId, v.version, v.kekId, v.wrappedKey, v.ciphertext, v.createdAt],
      );
    },
    async setCurrentVersion(
      secretId: string,
      version: number | null,
      window: { notBefore: number | null; expiresOn: number | null },
      updatedAt: number,
    ): Promise<void> {
      await conn.executor.run(
        'coffer_set_current_version',
        'UPDATE secrets SET current_version = $1, not_before = $2, expires_on = $3, updated_at = $4 WHERE id = $5',
        [version, window.notBefore, window.expiresOn, updatedAt, secretId],
      );
    },
    async pruneVersions(secretId: string, keep: number): Promise<void> {
      if (keep <= 0) {
        await conn.executor.run(
          'coffer_delete_versions',
          'DELETE FROM secret_versions WHERE secret_id = $1',
          [secretId],
        );
        return;
      }
      // Every version number `keep` or more below the newest issued, with its state: one statement,
      // one round trip (both deletes see the same snapshot, and each runs to completion).
      await conn.executor.run(
        'coffer_prune_versions_and_states_below_latest',
        `WITH bound AS (SELECT latest_version - $2 AS v FROM secrets WHERE id = $1),
              pruned AS (DELETE FROM secret_versions
                          WHERE secret_id = $1 AND version <= (SELECT v FROM bound))
         DELETE FROM version_states WHERE secret_id = $1 AND version <= (SELECT v FROM bound)`,
        [secretId, keep],
      );
    },
    async insertCurrentVersion(
      v: VersionRecord,
      window: { notBefore: number | null; expiresOn: number | null },
      keep: number,
    ): Promise<void> {
      // insertVersion, setCurrentVersion and pruneVersions in one statement: data-modifying WITH
      // clauses all run, to completion, on one snapshot. The prune bound comes from the UPDATE's
      // RETURNING; the version inserted here is above it (keep >= 1), and the DELETE could not see it.
      await conn.executor.run(
        'coffer_insert_current_version',
        `WITH inserted AS (
           INSERT INTO secret_versions (secret_id, version, kek_id, wrapped_key, ciphertext, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)),
              made_current AS (
           UPDATE secrets SET current_version = $2, not_before = $7, expires_on = $8, updated_at = $6
            WHERE id = $1 RETURNING latest_version - $9 AS bound),
              pruned AS (
           DELETE FROM secret_versions
            WHERE secret_id = $1 AND version <= (SELECT bound FROM made_current))
         DELETE FROM version_states WHERE secret_id = $1 AND version <= (SELECT bound FROM made_current)`,
        [
          v.secretId,
          v.version,
          v.kekId,
          v.wrappedKey,
          v.ciphertext,
          v.createdAt,
          window.notBefore,
          window.expiresOn,
          Math.max(1, keep),
        ],
      );
    },
    async deleteSecret(storeId: string, secretId: string): Promise<boolean> {
      // Versions go with it (ON DELETE CASCADE); the store condition keeps another store's secret safe.
      const n = await conn.changes(
        'coffer_delete_secret',
        'DELETE FROM secrets WHERE store_id = $1 AND id = $2',
        [storeId, secretId],
      );
      return n === 1;
    },
    async rewrapVersion(
      secretId: string,
      version: number,
      expectedKekId: string,
      next: { kekId: string; wrappedKey: Buffer },
    ): Promise<boolean> {
      const n = await conn.changes(
        'coffer_rewrap_version',
        `UPDATE secret_versions SET kek_id = $1, wrapped_key = $2
          WHERE secret_id = $3 AND version = $4 AND kek_id = $5`,
        [next.kekId, next.wrappedKey, secretId, version, expectedKekId],
      );
      return n === 1;
    },
  };
  return queries;
}
