import type { IssuedTokenRecord } from '../../core/model.js';
import type { IssuedTokenReads, IssuedTokenWrites } from '../../core/ports/issued-tokens.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { toIssuedToken } from './sqlite-rows.js';

/** Tokens issued by a login: the port of src/core/ports/issued-tokens.ts on one SQLite connection. */
export function sqliteIssuedTokenQueries(conn: SqliteConnection): IssuedTokenReads & IssuedTokenWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    findByHash: p('SELECT * FROM issued_tokens WHERE token_hash = ?'),
    get: p('SELECT * FROM issued_tokens WHERE accessor = ?'),
    insert: p(
      `INSERT INTO issued_tokens (token_hash, accessor, tenant_id, mount, role, subject, permissions,
         ttl_ms, created_at, expires_at, max_expires_at, renewed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    renew: p('UPDATE issued_tokens SET expires_at = ?, renewed_at = ? WHERE accessor = ? RETURNING *'),
    delete: p('DELETE FROM issued_tokens WHERE accessor = ?'),
    purge: p(
      `DELETE FROM issued_tokens WHERE token_hash IN
         (SELECT token_hash FROM issued_tokens WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ),
  };
  return {
    async findIssuedTokenByHash(tokenHash: Buffer): Promise<IssuedTokenRecord | null> {
      const row = stmt.findByHash.get(tokenHash) as Row | undefined;
      return row ? toIssuedToken(row) : null;
    },
    async getIssuedToken(accessor: string): Promise<IssuedTokenRecord | null> {
      const row = stmt.get.get(accessor) as Row | undefined;
      return row ? toIssuedToken(row) : null;
    },
    async insertIssuedToken(t: IssuedTokenRecord): Promise<boolean> {
      const r = stmt.insert.run(
        t.tokenHash,
        t.accessor,
        t.tenantId,
        t.mount,
        t.role,
        t.subject,
        JSON.stringify(t.permissions),
        t.ttlMs,
        t.createdAt,
        t.expiresAt,
        t.maxExpiresAt,
        t.renewedAt,
      );
      return r.changes === 1;
    },
    async renewIssuedToken(
      accessor: string,
      expiresAt: number,
      renewedAt: number,
    ): Promise<IssuedTokenRecord | null> {
      const row = stmt.renew.get(expiresAt, renewedAt, accessor) as Row | undefined;
      // A renewal may shorten the token (an increment below what is left): caches must forget it.
      if (row) conn.credentialsChanged();
      return row ? toIssuedToken(row) : null;
    },
    async deleteIssuedToken(accessor: string): Promise<boolean> {
      const deleted = stmt.delete.run(accessor).changes === 1;
      if (deleted) conn.credentialsChanged();
      return deleted;
    },
    async purgeExpiredTokens(now: number, limit: number): Promise<number> {
      return stmt.purge.run(now, limit).changes;
    },
  };
}
