import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import { type OidcConfig, isAcceptableIdpUrl } from '../config.js';
import type { BearerFailure, BearerVerification, BearerVerifier } from '../core/bearer-verifier.js';
import { isTenantId } from '../core/names.js';
import { isKnownPermission } from '../core/permissions.js';

/** Asymmetric algorithms only: an HMAC "key" from a JWKS would be a shared secret, and `none` is no signature. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Clock skew allowed on `exp`, `nbf` and `iat`, in seconds. */
const CLOCK_TOLERANCE_S = 30;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_SUBJECT_LENGTH = 255;
/** Most permission entries read from one token: bounds the work a hostile-but-signed token can cause. */
const MAX_PERMISSION_ENTRIES = 256;

type KeySet = ReturnType<typeof createRemoteJWKSet>;

export interface OidcVerifierOptions {
  /** Told when the identity provider cannot be reached or answers nonsense (for the log). */
  readonly onUnavailable?: (error: unknown) => void;
}

/**
 * Verifies OIDC access tokens with jose against the issuer's JWKS (docs/oidc.md): signature by an
 * asymmetric key of the set, `iss`, `aud`, `exp` (required), `nbf`, then maps claims to a tenant and
 * Coffer permission names. The JWKS URL is configured or discovered once; jose caches the key set
 * and refetches it (at most every 30 s) when a token names a key it does not know, so key rotation
 * at the provider needs no restart. Nothing is fetched until the first JWT arrives.
 */
export class OidcVerifier implements BearerVerifier {
  readonly #config: OidcConfig;
  readonly #keys: IssuerKeys;

  constructor(config: OidcConfig, options: OidcVerifierOptions = {}) {
    this.#config = config;
    this.#keys = new IssuerKeys(config.issuer, config.jwksUrl, options.onUnavailable);
  }

  async verify(token: string): Promise<BearerVerification> {
    const verified = await this.#keys.verify(token, this.#config.audience);
    if (!verified.ok) return verified;
    return this.#mapClaims(verified.payload);
  }

  #mapClaims(payload: JWTPayload): BearerVerification {
    const subject = payload.sub;
    // Control characters would reach logs and the audit trail through the actor's name.
    if (
      typeof subject !== 'string' ||
      subject.length === 0 ||
      subject.length > MAX_SUBJECT_LENGTH ||
      hasControlCharacter(subject)
    ) {
      return { ok: false, failure: 'bad_claims' };
    }
    const tenantId = payload[this.#config.tenantClaim];
    if (typeof tenantId !== 'string' || !isTenantId(tenantId)) return { ok: false, failure: 'no_tenant' };
    const names = [
      ...permissionNames(payload[this.#config.permissionsClaim]),
      ...(this.#config.permissionsClaim === 'scope' ? [] : permissionNames(payload.scope)),
    ];
    // Unknown names are dropped, not refused: access tokens routinely carry `openid`, `profile`, …
    const permissions = [...new Set(names.slice(0, MAX_PERMISSION_ENTRIES))].filter(isKnownPermission);
    const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
    return { ok: true, subject, tenantId, permissions, ...(expiresAt === undefined ? {} : { expiresAt }) };
  }
}

/**
 * One issuer's signing keys: the JWKS URL configured or discovered once (from
 * `{issuer}/.well-known/openid-configuration`), jose's remote key set (cached, refetched when a
 * token names an unknown kid), and the checks every JWT from it gets: signature by an asymmetric
 * key of the set, `iss`, `aud`, `exp` (required) and `nbf`. Shared by OIDC bearer tokens and JWT
 * login mounts (src/oidc/jwt-login-verifier.ts). Nothing is fetched until the first JWT arrives.
 */
export class IssuerKeys {
  readonly #issuer: string;
  readonly #jwksUrl: string | null;
  readonly #onUnavailable: (error: unknown) => void;
  #keySet: Promise<KeySet> | null = null;

  constructor(issuer: string, jwksUrl: string | null, onUnavailable?: (error: unknown) => void) {
    this.#issuer = issuer;
    this.#jwksUrl = jwksUrl;
    this.#onUnavailable = onUnavailable ?? (() => undefined);
  }

  async verify(
    token: string,
    audience: string | string[],
    requiredClaims: readonly string[] = ['exp', 'sub'],
  ): Promise<{ ok: true; payload: JWTPayload } | { ok: false; failure: BearerFailure }> {
    try {
      const keySet = await this.#resolveKeySet();
      const { payload } = await jwtVerify(token, keySet, {
        issuer: this.#issuer,
        audience,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        // A token without `exp` would never expire.
        requiredClaims: [...requiredClaims],
      });
      return { ok: true, payload };
    } catch (error) {
      const failure = classify(error);
      if (failure === 'unavailable') this.#onUnavailable(error);
      return { ok: false, failure };
    }
  }

  /** One discovery at a time; a failed one is forgotten, so the next token tries again. */
  #resolveKeySet(): Promise<KeySet> {
    if (this.#keySet === null) {
      const pending = this.#discoverJwksUrl().then((url) =>
        createRemoteJWKSet(url, { timeoutDuration: FETCH_TIMEOUT_MS }),
      );
      this.#keySet = pending;
      pending.catch(() => {
        if (this.#keySet === pending) this.#keySet = null;
      });
    }
    return this.#keySet;
  }

  async #discoverJwksUrl(): Promise<URL> {
    if (this.#jwksUrl !== null) return new URL(this.#jwksUrl);
    const issuer = this.#issuer.replace(/\/+$/, '');
    const response = await fetch(`${issuer}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      // A redirect could lead off the configured issuer.
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
    if (!response.ok) throw new DiscoveryError(`discovery answered HTTP ${response.status}`);
    const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== this.#issuer) throw new DiscoveryError('discovery names another issuer');
    if (typeof document.jwks_uri !== 'string') throw new DiscoveryError('discovery has no jwks_uri');
    const url = new URL(document.jwks_uri);
    if (!isAcceptableIdpUrl(url)) throw new DiscoveryError('jwks_uri is not https');
    return url;
  }
}

class DiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** An array of strings, or one space-separated string (OAuth's `scope`); anything else holds none. */
function permissionNames(claim: unknown): string[] {
  if (typeof claim === 'string') return claim.split(' ').filter((n) => n !== '');
  if (Array.isArray(claim)) return claim.filter((n): n is string => typeof n === 'string');
  return [];
}

function classify(error: unknown): BearerFailure {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return 'bad_claims';
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JOSENotSupported
  ) {
    return 'bad_signature';
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed';
  // JWKS or discovery fetch failed, timed out or answered nonsense: the token may be fine.
  return 'unavailable';
}
