import type { ApiKeyRecord, ServiceCredentialRecord } from '../../core/model.js';
import type { ApiKeyReads, ApiKeyWrites } from '../../core/ports/api-keys.js';
import type { PostgresConnection } from './postgres-connection.js';
import { toApiKey, toService, API_KEY_COLUMNS, SERVICE_COLUMNS } from './postgres-rows.js';

/**
 * API keys and service credentials: the port of src/core/ports/api-keys.ts
 * on one PostgreSQL connection.
 */
export function postgresApiKeyQueries(conn: PostgresConnection): ApiKeyReads & ApiKeyWrites {
  const queries: ApiKeyReads & ApiKeyWrites = {
    async countApiKeys(): Promise<number> {
      return conn.count('coffer_count_api_keys', 'SELECT count(*) AS n FROM api_keys', []);
    },
    async findApiKeyByHash(tokenHash: Buffer): Promise<ApiKeyRecord | null> {
      const row = await conn.one(
        'coffer_find_api_key_by_hash',
        `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE token_hash = $1`,
        [tokenHash],
      );
      return row ? toApiKey(row) : null;
    },
    async getApiKey(tenantId: string, name: string): Promise<ApiKeyRecord | null> {
      const row = await conn.one(
        'coffer_get_api_key',
        `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND name = $2`,
        [tenantId, name],
      );
      return row ? toApiKey(row) : null;
    },
    async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
      const rows = await conn.all(
        'coffer_list_api_keys',
        `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY name`,
        [tenantId],
      );
      return rows.map(toApiKey);
    },
    async findServiceByHash(tokenHash: Buffer): Promise<ServiceCredentialRecord | null> {
      const row = await conn.one(
        'coffer_find_service_by_hash',
        `SELECT ${SERVICE_COLUMNS} FROM service_credentials WHERE token_hash = $1`,
        [tokenHash],
      );
      return row ? toService(row) : null;
    },
    async listServices(): Promise<ServiceCredentialRecord[]> {
      return (
        await conn.all(
          'coffer_list_services',
          `SELECT ${SERVICE_COLUMNS} FROM service_credentials ORDER BY name`,
        )
      ).map(toService);
    },
    async insertApiKey(k: ApiKeyRecord): Promise<boolean> {
      const n = await conn.changes(
        'coffer_insert_api_key',
        `INSERT INTO api_keys (tenant_id, name, token_hash, token_prefix, enabled, permissions, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [
          k.tenantId,
          k.name,
          k.tokenHash,
          k.tokenPrefix,
          k.enabled,
          [...k.permissions],
          k.createdAt,
          k.updatedAt,
        ],
      );
      if (n === 1) await conn.credentialsChanged();
      return n === 1;
    },
    async updateApiKey(
      tenantId: string,
      name: string,
      patch: { enabled: boolean; permissions: readonly string[]; updatedAt: number },
    ): Promise<ApiKeyRecord | null> {
      const row = await conn.one(
        'coffer_update_api_key',
        `UPDATE api_keys SET enabled = $1, permissions = $2, updated_at = $3
          WHERE tenant_id = $4 AND name = $5 RETURNING ${API_KEY_COLUMNS}`,
        [patch.enabled, [...patch.permissions], patch.updatedAt, tenantId, name],
      );
      if (row) await conn.credentialsChanged();
      return row ? toApiKey(row) : null;
    },
    async deleteApiKey(tenantId: string, name: string): Promise<boolean> {
      const n = await conn.changes(
        'coffer_delete_api_key',
        'DELETE FROM api_keys WHERE tenant_id = $1 AND name = $2',
        [tenantId, name],
      );
      if (n === 1) await conn.credentialsChanged();
      return n === 1;
    },
    async insertService(c: ServiceCredentialRecord): Promise<boolean> {
      const n = await conn.changes(
        'coffer_insert_service',
        `INSERT INTO service_credentials (name, token_hash, token_prefix, enabled, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [c.name, c.tokenHash, c.tokenPrefix, c.enabled, c.createdAt],
      );
      if (n === 1) await conn.credentialsChanged();
      return n === 1;
    },
    async setServiceEnabled(name: string, enabled: boolean): Promise<boolean> {
      const n = await conn.changes(
        'coffer_set_service_enabled',
        'UPDATE service_credentials SET enabled = $1 WHERE name = $2',
        [enabled, name],
      );
      if (n === 1) await conn.credentialsChanged();
      return n === 1;
    },
    async deleteService(name: string): Promise<ServiceCredentialRecord | null> {
      const row = await conn.one(
        'coffer_delete_service',
        `DELETE FROM service_credentials WHERE name = $1 RETURNING ${SERVICE_COLUMNS}`,
        [name],
      );
      if (row) await conn.credentialsChanged();
      return row ? toService(row) : null;
    },
  };
  return queries;
}
