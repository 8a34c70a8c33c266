import type { ApiKeyRecord, ServiceCredentialRecord } from '../../core/model.js';
import type { ApiKeyReads, ApiKeyWrites } from '../../core/ports/api-keys.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { toApiKey, toService } from './sqlite-rows.js';

/**
 * API keys and service credentials: the port of src/core/ports/api-keys.ts
 * on one SQLite connection.
 */
export function sqliteApiKeyQueries(conn: SqliteConnection): ApiKeyReads & ApiKeyWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    countApiKeys: p('SELECT count(*) AS n FROM api_keys').pluck(),
    findApiKeyByHash: p('SELECT * FROM api_keys WHERE token_hash = ?'),
    getApiKey: p('SELECT * FROM api_keys WHERE tenant_id = ? AND name = ?'),
    listApiKeys: p('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY name'),
    findServiceByHash: p('SELECT * FROM service_credentials WHERE token_hash = ?'),
    listServices: p('SELECT * FROM service_credentials ORDER BY name'),
    insertApiKey: p(
      `INSERT INTO api_keys (tenant_id, name, token_hash, token_prefix, enabled, permissions, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    updateApiKey: p(
      'UPDATE api_keys SET enabled = ?, permissions = ?, updated_at = ? WHERE tenant_id = ? AND name = ? RETURNING *',
    ),
    deleteApiKey: p('DELETE FROM api_keys WHERE tenant_id = ? AND name = ?'),
    insertService: p(
      `INSERT INTO service_credentials (name, token_hash, token_prefix, enabled, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    setServiceEnabled: p('UPDATE service_credentials SET enabled = ? WHERE name = ?'),
    deleteService: p('DELETE FROM service_credentials WHERE name = ? RETURNING *'),
  };
  const queries: ApiKeyReads & ApiKeyWrites = {
    async countApiKeys(): Promise<number> {
      return stmt.countApiKeys.get() as number;
    },
    async findApiKeyByHash(tokenHash: Buffer): Promise<ApiKeyRecord | null> {
      const row = stmt.findApiKeyByHash.get(tokenHash) as Row | undefined;
      return row ? toApiKey(row) : null;
    },
    async getApiKey(tenantId: string, name: string): Promise<ApiKeyRecord | null> {
      const row = stmt.getApiKey.get(tenantId, name) as Row | undefined;
      return row ? toApiKey(row) : null;
    },
    async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
      return (stmt.listApiKeys.all(tenantId) as Row[]).map(toApiKey);
    },
    async findServiceByHash(tokenHash: Buffer): Promise<ServiceCredentialRecord | null> {
      const row = stmt.findServiceByHash.get(tokenHash) as Row | undefined;
      return row ? toService(row) : null;
    },
    async listServices(): Promise<ServiceCredentialRecord[]> {
      return (stmt.listServices.all() as Row[]).map(toService);
    },
    async insertApiKey(k: ApiKeyRecord): Promise<boolean> {
      const r = stmt.insertApiKey.run(
        k.tenantId,
        k.name,
        k.tokenHash,
        k.tokenPrefix,
        k.enabled ? 1 : 0,
        JSON.stringify(k.permissions),
        k.createdAt,
        k.updatedAt,
      );
      if (r.changes === 1) conn.credentialsChanged();
      return r.changes === 1;
    },
    async updateApiKey(
      tenantId: string,
      name: string,
      patch: { enabled: boolean; permissions: readonly string[]; updatedAt: number },
    ): Promise<ApiKeyRecord | null> {
      const row = stmt.updateApiKey.get(
        patch.enabled ? 1 : 0,
        JSON.stringify(patch.permissions),
        patch.updatedAt,
        tenantId,
        name,
      ) as Row | undefined;
      if (row) conn.credentialsChanged();
      return row ? toApiKey(row) : null;
    },
    async deleteApiKey(tenantId: string, name: string): Promise<boolean> {
      const deleted = stmt.deleteApiKey.run(tenantId, name).changes === 1;
      if (deleted) conn.credentialsChanged();
      return deleted;
    },
    async insertService(c: ServiceCredentialRecord): Promise<boolean> {
      const r = stmt.insertService.run(c.name, c.tokenHash, c.tokenPrefix, c.enabled ? 1 : 0, c.createdAt);
      if (r.changes === 1) conn.credentialsChanged();
      return r.changes === 1;
    },
    async setServiceEnabled(name: string, enabled: boolean): Promise<boolean> {
      const changed = stmt.setServiceEnabled.run(enabled ? 1 : 0, name).changes === 1;
      if (changed) conn.credentialsChanged();
      return changed;
    },
    async deleteService(name: string): Promise<ServiceCredentialRecord | null> {
      const row = stmt.deleteService.get(name) as Row | undefined;
      if (row) conn.credentialsChanged();
      return row ? toService(row) : null;
    },
  };
  return queries;
}
