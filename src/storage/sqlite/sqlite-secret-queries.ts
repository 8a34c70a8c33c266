import { KEK_IDS_IN_USE_SQL } from '../kek-ids-in-use-sql.js';
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
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { sqliteKeySlots } from './sqlite-key-slots.js';
import { namePage } from './sqlite-name-page.js';
import { str, num, numOrNull, blob, toSecret, toVersion } from './sqlite-rows.js';

/** `LIKE` pattern matching `text` literally anywhere (escape char `\`). */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const ORDER_COLUMNS: Record<SecretListQuery['order'], string> = {
  name: 'name',
  comment: "coalesce(description, '')",
  created: 'created_at',
  modified: 'updated_at',
  // Every listed secret with a value is active and one without is pending: order by that.
  status: '(current_version IS NULL)',
};

/**
 * Secrets, their versions and the versions' wrapped data keys: the port of src/core/ports/secrets.ts
 * on one SQLite connection.
 */
export function sqliteSecretQueries(conn: SqliteConnection): SecretReads & SecretWrites {
  const p = (sql: string) => conn.statement(sql);
  const keySlots = sqliteKeySlots(conn);
  const stmt = {
    getSecret: p('SELECT * FROM secrets WHERE store_id = ? AND name = ?'),
    getSecretById: p('SELECT * FROM secrets WHERE store_id = ? AND id = ?'),
    countSecretsInStore: p('SELECT count(*) FROM secrets WHERE store_id = ?').pluck(),
    // The triggers' counts (migration 8): one row per store of the tenant, not one per secret.
    countSecretsInTenant: p(
      `SELECT coalesce(sum(c.secrets), 0) FROM stores st JOIN store_secret_counts c ON c.store_id = st.id
        WHERE st.tenant_id = ?`,
    ).pluck(),
    getVersion: p('SELECT * FROM sealed_versions WHERE secret_id = ? AND version = ?'),
    listSecretNamesWithValue: p(
      'SELECT name FROM secrets WHERE store_id = ? AND current_version IS NOT NULL ORDER BY name',
    ).pluck(),
    getCurrentValue: p(
      `SELECT st.id AS store_id, s.id AS secret_id, s.not_before, s.expires_on,
              v.version, v.kek_id, v.wrapped_key, v.ciphertext
         FROM stores st
         JOIN secrets s ON s.store_id = st.id AND s.name = ?
         JOIN sealed_versions v ON v.secret_id = s.id AND v.version = s.current_version
        WHERE st.tenant_id = ? AND st.managed_by = '' AND st.name = ?`,
    ),
    listVersions: p('SELECT * FROM sealed_versions WHERE secret_id = ? ORDER BY version'),
    // Webhooks' signing secrets are sealed too (src/core/webhooks/webhook-secret.ts).
    hasSealedValues: p(
      'SELECT EXISTS (SELECT 1 FROM secret_versions) OR EXISTS (SELECT 1 FROM webhooks) AS x',
    ).pluck(),
    listKekIdsInUse: p(KEK_IDS_IN_USE_SQL).pluck(),
    // Row-value comparison walks the (secret_id, version) primary key from the cursor on.
    listWrappedKeys: p(
      `SELECT st.tenant_id, s.store_id, v.secret_id, v.version, v.kek_id, v.wrapped_key
         FROM sealed_versions v
         JOIN secrets s ON s.id = v.secret_id
         JOIN stores st ON st.id = s.store_id
        WHERE v.kek_id = ? AND (v.secret_id, v.version) > (?, ?)
        ORDER BY v.secret_id, v.version
        LIMIT ?`,
    ),
    insertSecret: p(
      `INSERT INTO secrets (id, store_id, name, description, scopes, not_before, expires_on,
                            current_version, latest_version, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    updateSecretMetadata: p('UPDATE secrets SET description = ?, scopes = ?, updated_at = ? WHERE id = ?'),
    allocateVersion: p(
      'UPDATE secrets SET latest_version = latest_version + 1 WHERE id = ? RETURNING latest_version',
    ).pluck(),
    insertVersion: p(
      `INSERT INTO secret_versions (secret_id, version, kek_id, key_slot, key_len, ciphertext, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    setCurrentVersion: p(
      'UPDATE secrets SET current_version = ?, not_before = ?, expires_on = ?, updated_at = ? WHERE id = ?',
    ),
    deleteVersions: p('DELETE FROM secret_versions WHERE secret_id = ?'),
    // Every version number `keep` or more below the newest issued: a range on the primary key.
    pruneVersions: p(
      `DELETE FROM secret_versions WHERE secret_id = ? AND version <=
         (SELECT latest_version FROM secrets WHERE id = ?) - ?`,
    ),
    pruneVersionStates: p(
      `DELETE FROM version_states WHERE secret_id = ? AND version <=
         (SELECT latest_version FROM secrets WHERE id = ?) - ?`,
    ),
    deleteSecret: p('DELETE FROM secrets WHERE id = ?'),
    rewrapVersion: p(
      `UPDATE secret_versions SET kek_id = ?, key_len = ?
        WHERE secret_id = ? AND version = ? AND kek_id = ? RETURNING key_slot`,
    ).pluck(),
  };
  const queries: SecretReads & SecretWrites = {
    async getSecret(storeId: string, name: string): Promise<SecretRecord | null> {
      const row = stmt.getSecret.get(storeId, name) as Row | undefined;
      return row ? toSecret(row) : null;
    },
    async getSecretById(storeId: string, id: string): Promise<SecretRecord | null> {
      const row = stmt.getSecretById.get(storeId, id) as Row | undefined;
      return row ? toSecret(row) : null;
    },
    async listSecrets(storeId: string, q: SecretListQuery): Promise<SecretPage> {
      const where = ['store_id = ?'];
      const args: unknown[] = [storeId];
      if (q.search !== undefined && q.search !== '') {
        const pattern = containsPattern(q.search);
        where.push("(lower(name) LIKE ? ESCAPE '\\' OR lower(coalesce(description, '')) LIKE ? ESCAPE '\\')");
        args.push(pattern, pattern);
      }
      if (q.namePrefix !== undefined && q.namePrefix !== '') {
        where.push('substr(name, 1, ?) = ?');
        args.push(q.namePrefix.length, q.namePrefix);
      }
      if (q.scopes !== undefined && q.scopes.length > 0) {
        where.push(
          `EXISTS (SELECT 1 FROM json_each(secrets.scopes) WHERE value IN (${q.scopes.map(() => '?').join(', ')}))`,
        );
        args.push(...q.scopes);
      }
      const filter = where.join(' AND ');
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      const total = conn
        .prepared(`SELECT count(*) FROM secrets WHERE ${filter}`)
        .pluck()
        .get(...args) as number;
      const rows = conn
        .prepared(
          `SELECT * FROM secrets WHERE ${filter} ORDER BY ${ORDER_COLUMNS[q.order]} ${dir}, id ${dir} LIMIT ? OFFSET ?`,
        )
        .all(...args, q.limit, q.offset) as Row[];
      return { items: rows.map(toSecret), total };
    },
    async listSecretsByName(storeId: string, q: NamePageQuery): Promise<NamePage<SecretRecord>> {
      const rows = namePage(conn, 'secrets', 'store_id = ?', [storeId], q);
      return { items: rows.slice(0, q.limit).map(toSecret), more: rows.length > q.limit };
    },
    async countSecretsInStore(storeId: string): Promise<number> {
      return stmt.countSecretsInStore.get(storeId) as number;
    },
    async countSecretsInTenant(tenantId: string): Promise<number> {
      return stmt.countSecretsInTenant.get(tenantId) as number;
    },
    async getVersion(secretId: string, version: number): Promise<VersionRecord | null> {
      const row = stmt.getVersion.get(secretId, version) as Row | undefined;
      return row ? toVersion(row) : null;
    },
    async listSecretNamesWithValue(storeId: string): Promise<string[]> {
      return stmt.listSecretNamesWithValue.all(storeId) as string[];
    },
    async getCurrentValue(
      tenantId: string,
      storeName: string,
      secretName: string,
    ): Promise<SecretValueRow | null> {
      const row = stmt.getCurrentValue.get(secretName, tenantId, storeName) as Row | undefined;
      if (!row) return null;
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
      return (stmt.listVersions.all(secretId) as Row[]).map(toVersion);
    },
    async hasSealedValues(): Promise<boolean> {
      return stmt.hasSealedValues.get() === 1;
    },
    async listKekIdsInUse(): Promise<string[]> {
      return stmt.listKekIdsInUse.all() as string[];
    },
    async listWrappedKeys(
      kekId: string,
      after: VersionCursor | null,
      limit: number,
    ): Promise<WrappedKeyRow[]> {
      // '' sorts before every id, so no cursor means "from the start".
      const rows = stmt.listWrappedKeys.all(
        kekId,
        after?.secretId ?? '',
        after?.version ?? 0,
        limit,
      ) as Row[];
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
      const r = stmt.insertSecret.run(
        s.id,
        s.storeId,
        s.name,
        s.description,
        JSON.stringify(s.scopes),
        s.notBefore,
        s.expiresOn,
        s.currentVersion,
        s.latestVersion,
        s.createdAt,
        s.updatedAt,
      );
      return r.changes === 1;
    },
    async updateSecretMetadata(
      secretId: string,
      patch: { description: string | null; scopes: readonly string[]; updatedAt: number },
    ): Promise<void> {
      stmt.updateSecretMetadata.run(
        patch.description,
        JSON.stringify(patch.scopes),
        patch.updatedAt,
        secretId,
      );
    },
    async allocateVersion(secretId: string): Promise<number> {
      const n = stmt.allocateVersion.get(secretId);
      if (typeof n !== 'number') throw new Error('sqlite: allocateVersion on a missing secret');
      return n;
    },
    async insertVersion(v: VersionRecord): Promise<void> {
      const slot = keySlots.store(v.wrappedKey);
      stmt.insertVersion.run(
        v.secretId,
        v.version,
        v.kekId,
        slot,
        v.wrappedKey.length,
        v.ciphertext,
        v.createdAt,
      );
    },
    async setCurrentVersion(
      secretId: string,
      version: number | null,
      window: { notBefore: number | null; expiresOn: number | null },
      updatedAt: number,
    ): Promise<void> {
      stmt.setCurrentVersion.run(version, window.notBefore, window.expiresOn, updatedAt, secretId);
    },
    async pruneVersions(secretId: string, keep: number): Promise<void> {
      const pruned =
        keep <= 0 ? stmt.deleteVersions.run(secretId) : stmt.pruneVersions.run(secretId, secretId, keep);
      if (keep > 0) stmt.pruneVersionStates.run(secretId, secretId, keep);
      if (pruned.changes > 0) conn.sealedBytesRemoved = true;
    },
    // No round trips to save: the three steps themselves (the prune's scrub flag included).
    async insertCurrentVersion(
      v: VersionRecord,
      window: { notBefore: number | null; expiresOn: number | null },
      keep: number,
    ): Promise<void> {
      await queries.insertVersion(v);
      await queries.setCurrentVersion(v.secretId, v.version, window, v.createdAt);
      await queries.pruneVersions(v.secretId, Math.max(1, keep));
    },
    async deleteSecret(storeId: string, secretId: string): Promise<boolean> {
      if (stmt.getSecretById.get(storeId, secretId) === undefined) return false;
      if (stmt.deleteVersions.run(secretId).changes > 0) conn.sealedBytesRemoved = true;
      return stmt.deleteSecret.run(secretId).changes === 1;
    },
    async rewrapVersion(
      secretId: string,
      version: number,
      expectedKekId: string,
      next: { kekId: string; wrappedKey: Buffer },
    ): Promise<boolean> {
      // The replaced wrapped key opens with the old KEK: once that is retired, no copy may linger.
      const slot = stmt.rewrapVersion.get(
        next.kekId,
        next.wrappedKey.length,
        secretId,
        version,
        expectedKekId,
      ) as number | undefined;
      if (slot === undefined) return false;
      keySlots.overwrite(slot, next.wrappedKey);
      return true;
    },
  };
  return queries;
}
