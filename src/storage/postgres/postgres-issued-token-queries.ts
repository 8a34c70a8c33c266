import type { IssuedTokenRecord } from '../../core/model.js';
import type { IssuedTokenReads, IssuedTokenWrites } from '../../core/ports/issued-tokens.js';
import type { PostgresConnection } from './postgres-connection.js';
import { ISSUED_TOKEN_COLUMNS, toIssuedToken } from './postgres-rows.js';

/** Tokens issued by a login: the port of src/core/ports/issued-tokens.ts on one PostgreSQL connection. */
export function postgresIssuedTokenQueries(conn: PostgresConnection): IssuedTokenReads & IssuedTokenWrites {
  return {
    async findIssuedTokenByHash(tokenHash: Buffer): Promise<IssuedTokenRecord | null> {
      const row = await conn.one(
        'coffer_find_issued_token_by_hash',
        `SELECT ${ISSUED_TOKEN_COLUMNS} FROM issued_tokens WHERE token_hash = $1`,
        [tokenHash],
      );
      return row ? toIssuedToken(row) : null;
    },
    async getIssuedToken(accessor: string): Promise<IssuedTokenRecord | null> {
      const row = await conn.one(
        'coffer_get_issued_token',
        `SELECT ${ISSUED_TOKEN_COLUMNS} FROM issued_tokens WHERE accessor = $1`,
        [accessor],
      );
      return row ? toIssuedToken(row) : null;
    },
    async insertIssuedToken(t: IssuedTokenRecord): Promise<boolean> {
      const n = await conn.changes(
        'coffer_insert_issued_token',
        `INSERT INTO issued_tokens (token_hash, accessor, tenant_id, mount, role, subject, permissions,
           ttl_ms, created_at, expires_at, max_expires_at, renewed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
        [
          t.tokenHash,
          t.accessor,
          t.tenantId,
          t.mount,
          t.role,
          t.subject,
          [...t.permissions],
          t.ttlMs,
          t.createdAt,
          t.expiresAt,
          t.maxExpiresAt,
          t.renewedAt,
        ],
      );
      return n === 1;
    },
    async renewIssuedToken(
      accessor: string,
      expiresAt: number,
      renewedAt: number,
    ): Promise<IssuedTokenRecord | null> {
      const row = await conn.one(
        'coffer_renew_issued_token',
        `UPDATE issued_tokens SET expires_at = $1, renewed_at = $2 WHERE accessor = $3
          RETURNING ${ISSUED_TOKEN_COLUMNS}`,
        [expiresAt, renewedAt, accessor],
      );
      // A renewal may shorten the token (an increment below what is left): caches must forget it.
      if (row) await conn.credentialsChanged();
      return row ? toIssuedToken(row) : null;
    },
    async deleteIssuedToken(accessor: string): Promise<boolean> {
      const n = await conn.changes(
        'coffer_delete_issued_token',
        'DELETE FROM issued_tokens WHERE accessor = $1',
        [accessor],
      );
      if (n === 1) await conn.credentialsChanged();
      return n === 1;
    },
    async purgeExpiredTokens(now: number, limit: number): Promise<number> {
      return conn.changes(
        'coffer_purge_expired_tokens',
        `DELETE FROM issued_tokens WHERE token_hash IN
           (SELECT token_hash FROM issued_tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
        [now, limit],
      );
    },
  };
}
