/**
 * Third-party bearer tokens (OIDC access tokens, docs/oidc.md) as the core sees them: a port with no
 * HTTP and no JOSE in it. The adapter (src/oidc/oidc-verifier.ts) checks signature, issuer, audience
 * and lifetime, and maps claims to a tenant and permission names; the core turns that into an actor.
 */
export interface VerifiedBearer {
  /** The token's `sub`: who the caller is at the identity provider. */
  readonly subject: string;
  readonly tenantId: string;
  /** Known Coffer permission names (canonical or aliases); the adapter drops unknown ones. */
  readonly permissions: readonly string[];
  /** The token's `exp` (epoch ms), when it has one. */
  readonly expiresAt?: number;
}

/**
 * Why a token was refused. Used for metrics and logs only: the caller always gets the same 401.
 * `unavailable` (the JWKS or discovery document could not be fetched) is a 503, not a 401: the token
 * may well be valid.
 */
export type BearerFailure =
  'malformed' | 'expired' | 'bad_signature' | 'bad_claims' | 'no_tenant' | 'unavailable';

export type BearerVerification =
  ({ readonly ok: true } & VerifiedBearer) | { readonly ok: false; readonly failure: BearerFailure };

export interface BearerVerifier {
  verify(token: string): Promise<BearerVerification>;
}

/** Longest JWT considered at all: refuses oversized noise before any parsing or crypto. */
export const MAX_JWT_LENGTH = 8192;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Three base64url parts (JWS compact serialisation); an empty signature is let through to be refused. */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_JWT_LENGTH && JWT_SHAPE.test(token);
}
