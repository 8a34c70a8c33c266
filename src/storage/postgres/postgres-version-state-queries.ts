import type { SecretSettings, StoreSettings, VersionState } from '../../core/model.js';
import type { VersionStateReads, VersionStateWrites } from '../../core/ports/version-states.js';
import type { PostgresConnection } from './postgres-connection.js';
import { toSecretSettings, toStoreSettings, toVersionState } from './postgres-rows.js';

/** Version states and settings: the port of src/core/ports/version-states.ts on one PostgreSQL connection. */
export function postgresVersionStateQueries(
  conn: PostgresConnection,
): VersionStateReads & VersionStateWrites {
  return {
    async getSecretSettings(secretId: string): Promise<SecretSettings | null> {
      const row = await conn.one(
        'coffer_get_secret_settings',
        'SELECT secret_id, max_versions, cas_required, custom_metadata FROM secret_settings WHERE secret_id = $1',
        [secretId],
      );
      return row ? toSecretSettings(row) : null;
    },
    async getStoreSettings(storeId: string): Promise<StoreSettings | null> {
      const row = await conn.one(
        'coffer_get_store_settings',
        'SELECT store_id, max_versions, cas_required FROM store_settings WHERE store_id = $1',
        [storeId],
      );
      return row ? toStoreSettings(row) : null;
    },
    async getVersionSettings(
      secretId: string,
      storeId: string,
    ): Promise<{ secret: SecretSettings | null; store: StoreSettings | null }> {
      // Both rows in one round trip: the secret's own settings and its store's defaults.
      const row = await conn.one(
        'coffer_get_version_settings',
        `SELECT s.secret_id, s.max_versions, s.cas_required, s.custom_metadata,
                st.store_id AS store_store_id, st.max_versions AS store_max_versions,
                st.cas_required AS store_cas_required
           FROM (SELECT 1) AS one
           LEFT JOIN secret_settings s ON s.secret_id = $1
           LEFT JOIN store_settings st ON st.store_id = $2`,
        [secretId, storeId],
      );
      if (row === null) return { secret: null, store: null };
      return {
        secret: row['secret_id'] === null ? null : toSecretSettings(row),
        store:
          row['store_store_id'] === null
            ? null
            : toStoreSettings({
                max_versions: row['store_max_versions'],
                cas_required: row['store_cas_required'],
              }),
      };
    },
    async listVersionStates(secretId: string): Promise<VersionState[]> {
      const rows = await conn.all(
        'coffer_list_version_states',
        `SELECT secret_id, version, created_at, deleted_at, destroyed FROM version_states
          WHERE secret_id = $1 ORDER BY version`,
        [secretId],
      );
      return rows.map(toVersionState);
    },
    async putSecretSettings(secretId: string, s: SecretSettings): Promise<void> {
      await conn.executor.run(
        'coffer_put_secret_settings',
        `INSERT INTO secret_settings (secret_id, max_versions, cas_required, custom_metadata) VALUES ($1, $2, $3, $4)
         ON CONFLICT (secret_id) DO UPDATE SET max_versions = excluded.max_versions,
           cas_required = excluded.cas_required, custom_metadata = excluded.custom_metadata`,
        [secretId, s.maxVersions, s.casRequired, JSON.stringify(s.customMetadata)],
      );
    },
    async putStoreSettings(storeId: string, s: StoreSettings): Promise<void> {
      await conn.executor.run(
        'coffer_put_store_settings',
        `INSERT INTO store_settings (store_id, max_versions, cas_required) VALUES ($1, $2, $3)
         ON CONFLICT (store_id) DO UPDATE SET max_versions = excluded.max_versions,
           cas_required = excluded.cas_required`,
        [storeId, s.maxVersions, s.casRequired],
      );
    },
    async putVersionState(secretId: string, v: VersionState): Promise<void> {
      await conn.executor.run(
        'coffer_put_version_state',
        `INSERT INTO version_states (secret_id, version, created_at, deleted_at, destroyed) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (secret_id, version) DO UPDATE SET created_at = excluded.created_at,
           deleted_at = excluded.deleted_at, destroyed = excluded.destroyed`,
        [secretId, v.version, v.createdAt, v.deletedAt, v.destroyed],
      );
    },
    async deleteVersionState(secretId: string, version: number): Promise<void> {
      await conn.executor.run(
        'coffer_delete_version_state',
        'DELETE FROM version_states WHERE secret_id = $1 AND version = $2',
        [secretId, version],
      );
    },
    async destroyVersionValue(secretId: string, version: number): Promise<boolean> {
      const n = await conn.changes(
        'coffer_destroy_version_value',
        'DELETE FROM secret_versions WHERE secret_id = $1 AND version = $2',
        [secretId, version],
      );
      return n === 1;
    },
  };
}
