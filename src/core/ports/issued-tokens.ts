import type { IssuedTokenRecord } from '../model.js';

/** Tokens issued by a login (docs/adr/0015-issued-tokens-and-jwt-login.md), found by hash or accessor. */
export interface IssuedTokenReads {
  findIssuedTokenByHash(tokenHash: Buffer): Promise<IssuedTokenRecord | null>;
  getIssuedToken(accessor: string): Promise<IssuedTokenRecord | null>;
}

/**
 * Revoking and renewing move the credentials epoch (every node's auth cache forgets, as for a key
 * disabled); issuing one does not need to (nothing cached can name a token that did not exist), nor
 * does purging expired ones (the cache refuses an expired token by itself).
 */
export interface IssuedTokenWrites {
  /** False when the hash or accessor is taken (never, with 256 random bits, but never silently). */
  insertIssuedToken(token: IssuedTokenRecord): Promise<boolean>;
  /** Sets a token's expiry; null when it no longer exists. */
  renewIssuedToken(accessor: string, expiresAt: number, renewedAt: number): Promise<IssuedTokenRecord | null>;
  deleteIssuedToken(accessor: string): Promise<boolean>;
  /** Deletes at most `limit` tokens that expired before `now`; answers how many. */
  purgeExpiredTokens(now: number, limit: number): Promise<number>;
}
