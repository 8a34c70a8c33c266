import type { SecretSettings, StoreSettings, VersionState } from '../../core/model.js';
import type { VersionStateReads, VersionStateWrites } from '../../core/ports/version-states.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { toSecretSettings, toStoreSettings, toVersionState } from './sqlite-rows.js';

/** Version states and settings: the port of src/core/ports/version-states.ts on one SQLite connection. */
export function sqliteVersionStateQueries(conn: SqliteConnection): VersionStateReads & VersionStateWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    getSecretSettings: p('SELECT * FROM secret_settings WHERE secret_id = ?'),
    getStoreSettings: p('SELECT * FROM store_settings WHERE store_id = ?'),
    listVersionStates: p('SELECT * FROM version_states WHERE secret_id = ? ORDER BY version'),
    putSecretSettings: p(
      `INSERT INTO secret_settings (secret_id, max_versions, cas_required, custom_metadata) VALUES (?, ?, ?, ?)
       ON CONFLICT (secret_id) DO UPDATE SET max_versions = excluded.max_versions,
         cas_required = excluded.cas_required, custom_metadata = excluded.custom_metadata`,
    ),
    putStoreSettings: p(
      `INSERT INTO store_settings (store_id, max_versions, cas_required) VALUES (?, ?, ?)
       ON CONFLICT (store_id) DO UPDATE SET max_versions = excluded.max_versions,
         cas_required = excluded.cas_required`,
    ),
    putVersionState: p(
      `INSERT INTO version_states (secret_id, version, created_at, deleted_at, destroyed) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (secret_id, version) DO UPDATE SET created_at = excluded.created_at,
         deleted_at = excluded.deleted_at, destroyed = excluded.destroyed`,
    ),
    deleteVersionState: p('DELETE FROM version_states WHERE secret_id = ? AND version = ?'),
    destroyVersionValue: p('DELETE FROM secret_versions WHERE secret_id = ? AND version = ?'),
  };
  return {
    async getSecretSettings(secretId: string): Promise<SecretSettings | null> {
      const row = stmt.getSecretSettings.get(secretId) as Row | undefined;
      return row ? toSecretSettings(row) : null;
    },
    async getVersionSettings(
      secretId: string,
      storeId: string,
    ): Promise<{ secret: SecretSettings | null; store: StoreSettings | null }> {
      const own = stmt.getSecretSettings.get(secretId) as Row | undefined;
      const store = stmt.getStoreSettings.get(storeId) as Row | undefined;
      return { secret: own ? toSecretSettings(own) : null, store: store ? toStoreSettings(store) : null };
    },
    async getStoreSettings(storeId: string): Promise<StoreSettings | null> {
      const row = stmt.getStoreSettings.get(storeId) as Row | undefined;
      return row ? toStoreSettings(row) : null;
    },
    async listVersionStates(secretId: string): Promise<VersionState[]> {
      return (stmt.listVersionStates.all(secretId) as Row[]).map(toVersionState);
    },
    async putSecretSettings(secretId: string, s: SecretSettings): Promise<void> {
      stmt.putSecretSettings.run(
        secretId,
        s.maxVersions,
        s.casRequired ? 1 : 0,
        JSON.stringify(s.customMetadata),
      );
    },
    async putStoreSettings(storeId: string, s: StoreSettings): Promise<void> {
      stmt.putStoreSettings.run(storeId, s.maxVersions, s.casRequired ? 1 : 0);
    },
    async putVersionState(secretId: string, v: VersionState): Promise<void> {
      stmt.putVersionState.run(secretId, v.version, v.createdAt, v.deletedAt, v.destroyed ? 1 : 0);
    },
    async deleteVersionState(secretId: string, version: number): Promise<void> {
      stmt.deleteVersionState.run(secretId, version);
    },
    async destroyVersionValue(secretId: string, version: number): Promise<boolean> {
      const destroyed = stmt.destroyVersionValue.run(secretId, version).changes === 1;
      // The frames that wrote its ciphertext must leave the WAL too (docs/adr/0008).
      if (destroyed) conn.sealedBytesRemoved = true;
      return destroyed;
    },
  };
}
