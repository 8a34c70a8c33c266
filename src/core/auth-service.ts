import { hashesEqual, hashToken, hasTokenShape, isWellFormedToken } from '../crypto/tokens.js';
import type { Repository } from './ports/repository.js';
import { type Actor, type Audience, requireAudience } from './actor.js';
import { type BearerVerifier, looksLikeJwt } from './bearer-verifier.js';
import { RateLimitedError, UnauthenticatedError, UnavailableError } from './errors.js';
import { type MetricsSink, NO_METRICS } from './metrics-sink.js';
import { grantsOf } from './permissions.js';
import { type Clock, systemClock } from './clock.js';
import { issuedTokenKeyName } from './token-service.js';
import type { FailureLimiter, RequestRateLimiter } from './rate-limits.js';

export interface AuthServiceDeps {
  readonly repository: Pick<
    Repository,
    'findApiKeyByHash' | 'findServiceByHash' | 'findIssuedTokenByHash' | 'credentialsEpoch' | 'getTenant'
  >;
  /** Expiry of issued tokens; absent: the system clock. */
  readonly clock?: Clock;
  /** Most token lookups kept (docs/security.md, "Caches"). */
  readonly cacheLimit?: number;
  /** Verifies third-party JWTs (OIDC, docs/oidc.md); absent: only Coffer tokens are accepted. */
  readonly bearerVerifier?: BearerVerifier;
  readonly metrics?: Pick<MetricsSink, 'tokenCache'>;
  /** Failed authentications per client address (COFFER_AUTH_FAILURE_LIMIT); absent: unlimited. */
  readonly failures?: FailureLimiter | null;
  /** Requests per credential (COFFER_KEY_RATE_LIMIT); absent: unlimited. */
  readonly perKey?: RequestRateLimiter | null;
}

/**
 * Who is presenting the token, and to what. Both are required: every entry point goes through the
 * failed-authentication limit with its client's address, and says whom it serves.
 */
export interface AuthContext {
  /** The client's address (behind a trusted proxy, the forwarded one): the failure limit's key. */
  readonly client: string;
  /** The entry point's audience: a tenant API or the platform's `system/` routes. */
  readonly audience: Audience;
}

/** Prefix of an OIDC actor's `keyName`: API key names cannot hold ':', so the two never collide. */
export const OIDC_KEY_PREFIX = 'oidc:';

/**
 * The metrics reason of a token that is well formed but names no usable credential. Unknown,
 * disabled and deleted tokens share it: `/metrics` may be open to anyone who can reach it, and
 * must not tell a revoked token (one that once worked) from one that never existed.
 */
export const INVALID_TOKEN_REASON = 'invalid_token';

function invalid(reason: string): UnauthenticatedError {
  return new UnauthenticatedError('invalid_credentials', 'The API key is not valid.', reason);
}

function limiterKey(actor: Actor): string {
  switch (actor.kind) {
    case 'api_key':
      return `key:${actor.tenantId}/${actor.keyName}`;
    case 'service':
      return `service:${actor.serviceName}`;
    case 'operator':
      return 'operator';
  }
}

/**
 * Turns a presented token into an actor. Every failure is the same Unauthenticated error (the
 * `reason` it carries is for metrics only), so a caller cannot tell an unknown token from a disabled
 * or deleted one, by the answer or by the work done: a token that is not cached costs exactly three
 * indexed lookups (API keys, services, issued tokens) whatever it turns out to be.
 *
 * Successful lookups are cached by token hash while the repository's credentials epoch stays the
 * same; any change to any key or service credential, and any revocation or renewal of an issued
 * token, in any process, empties the cache. A cached issued token is also checked against its
 * expiry on every hit. Failures (unknown, disabled, deleted, expired) are never cached, so the
 * cache cannot be filled with noise.
 *
 * Brute force: a client address with too many failures is refused (RateLimited) before any
 * lookup, except for a token this process has already verified (a cache hit), so a valid key
 * behind a shared address keeps working while someone guesses from it.
 *
 * A JWT is handed to the bearer verifier when one is configured; its claims become an `api_key`
 * actor of the claimed tenant, so `requirePermission` treats it exactly like a key.
 */
export class AuthService {
  readonly #deps: AuthServiceDeps;
  readonly #cache = new Map<string, Actor>();
  readonly #limit: number;
  readonly #metrics: Pick<MetricsSink, 'tokenCache'>;
  /** Tenants seen to exist. Tenants are never deleted, so a positive answer stays true. */
  readonly #knownTenants = new Set<string>();
  #cacheEpoch = Number.NaN;

  constructor(deps: AuthServiceDeps) {
    this.#deps = deps;
    this.#limit = deps.cacheLimit ?? 10_000;
    this.#metrics = deps.metrics ?? NO_METRICS;
  }

  #epoch(): number {
    return this.#deps.repository.credentialsEpoch();
  }

  async authenticate(token: string | undefined, context: AuthContext): Promise<Actor> {
    if (token === undefined || token === '') {
      throw new UnauthenticatedError('missing_credentials', 'An API key is required.');
    }
    const shaped = hasTokenShape(token);
    const hash = shaped ? hashToken(token) : null;
    const cacheKey = hash?.toString('base64');
    const epoch = this.#epoch();
    if (epoch !== this.#cacheEpoch) {
      this.#cache.clear();
      this.#cacheEpoch = epoch;
    }
    // A cached token passed the checksum when it was first looked up.
    let cached = cacheKey === undefined ? undefined : this.#cache.get(cacheKey);
    if (cached !== undefined && cacheKey !== undefined && this.#expired(cached)) {
      // Expired as cached: perhaps renewed since (elsewhere), so it is looked up again, not refused.
      this.#cache.delete(cacheKey);
      cached = undefined;
    }
    if (cached !== undefined) {
      this.#metrics.tokenCache('hit');
      return this.#admit(cached, context.audience);
    }

    const { client } = context;
    const failures = this.#deps.failures ?? null;
    if (failures !== null) {
      const blocked = failures.blocked(client);
      if (blocked !== null) {
        throw new RateLimitedError('too_many_failed_authentications', blocked.seconds, {
          until: blocked.until,
          client,
        });
      }
    }
    let actor: Actor;
    try {
      if (hash === null || cacheKey === undefined) {
        if (looksLikeJwt(token)) return this.#admit(await this.#authenticateJwt(token), context.audience);
        throw invalid('malformed_token');
      }
      this.#metrics.tokenCache('miss');
      // Shape and checksum are public knowledge: refusing noise here costs no database lookup.
      if (!isWellFormedToken(token)) throw invalid('malformed_token');
      actor = await this.#lookup(hash);
    } catch (error) {
      if (error instanceof UnauthenticatedError && failures !== null) {
        failures.recordFailure(client);
      }
      throw error;
    }
    // Cache only if nothing changed while we looked (NaN never equals itself: no epoch, no cache).
    if (this.#epoch() === epoch && this.#cacheEpoch === epoch) {
      if (this.#cache.size >= this.#limit) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(cacheKey, actor);
    }
    return this.#admit(actor, context.audience);
  }

  /**
   * A re-check of a credential that authenticated a long-lived request (a change stream): whether the
   * token still names the same actor with the same rights. Cheap while the credentials epoch stays
   * the same (an answer of `true` is kept until it moves); a JWT is verified again each time (its
   * expiry). No rate limit and no failure counting: the token already authenticated once.
   */
  credentialCheck(token: string, actor: Actor): () => Promise<boolean> {
    let checkedAt = this.#epoch();
    const jwt = !hasTokenShape(token);
    return async () => {
      const epoch = this.#epoch();
      if (!jwt && epoch === checkedAt) return true;
      try {
        const now = jwt ? await this.#authenticateJwt(token) : await this.#lookup(hashToken(token));
        if (!sameActor(now, actor)) return false;
      } catch (error) {
        if (error instanceof UnauthenticatedError) return false;
        // Unreachable database or identity provider: keep the stream, check again next time.
        return true;
      }
      checkedAt = epoch;
      return true;
    };
  }

  /**
   * A verified credential, before it may act: it must be for this entry point's audience (a service
   * only on the platform's routes, a tenant key only on a tenant's), then within its request rate.
   */
  #admit(actor: Actor, audience: Audience): Actor {
    requireAudience(actor, audience);
    const perKey = this.#deps.perKey ?? null;
    if (perKey !== null) {
      const wait = perKey.take(limiterKey(actor));
      if (wait > 0) throw new RateLimitedError('key_rate_limited', wait);
    }
    return actor;
  }

  #expired(actor: Actor): boolean {
    return (
      actor.kind === 'api_key' &&
      actor.session?.kind === 'issued_token' &&
      actor.session.expiresAt <= (this.#deps.clock ?? systemClock).now()
    );
  }

  async #lookup(hash: Buffer): Promise<Actor> {
    // The three lookups always run, and in the same order, so an unknown token, a disabled key, an
    // expired token and a disabled service cost the same (no timing oracle telling which exists).
    const key = await this.#deps.repository.findApiKeyByHash(hash);
    const service = await this.#deps.repository.findServiceByHash(hash);
    const issued = await this.#deps.repository.findIssuedTokenByHash(hash);
    if (key !== null && hashesEqual(key.tokenHash, hash)) {
      if (!key.enabled) throw invalid(INVALID_TOKEN_REASON);
      return Object.freeze({
        kind: 'api_key',
        tenantId: key.tenantId,
        keyName: key.name,
        grants: grantsOf(key.permissions),
      });
    }
    if (service !== null && hashesEqual(service.tokenHash, hash)) {
      if (!service.enabled) throw invalid(INVALID_TOKEN_REASON);
      return Object.freeze({ kind: 'service', serviceName: service.name });
    }
    if (issued !== null && hashesEqual(issued.tokenHash, hash)) {
      // Expired is refused like revoked (deleted): the same reason, the same answer.
      if (issued.expiresAt <= (this.#deps.clock ?? systemClock).now()) throw invalid(INVALID_TOKEN_REASON);
      return Object.freeze({
        kind: 'api_key',
        tenantId: issued.tenantId,
        keyName: issuedTokenKeyName(issued),
        grants: grantsOf(issued.permissions),
        session: Object.freeze({
          kind: 'issued_token',
          accessor: issued.accessor,
          expiresAt: issued.expiresAt,
        }),
      });
    }
    throw invalid(INVALID_TOKEN_REASON);
  }

  /** Not cached: a JWT's lifetime is its own, and verification is a signature check, not a lookup. */
  async #authenticateJwt(token: string): Promise<Actor> {
    const verifier = this.#deps.bearerVerifier;
    if (verifier === undefined) throw invalid('oidc_disabled');
    const result = await verifier.verify(token);
    if (!result.ok) {
      if (result.failure === 'unavailable') {
        throw new UnavailableError(
          'identity_provider_unavailable',
          'The token cannot be verified right now.',
        );
      }
      throw invalid(`oidc_${result.failure}`);
    }
    // Tenants are created by the operator, never by a claim: a misconfigured claim mapping (an email
    // as tenant, say) must not conjure tenants into existence on the first write.
    if (!(await this.#tenantExists(result.tenantId))) throw invalid('oidc_unknown_tenant');
    return Object.freeze({
      kind: 'api_key',
      tenantId: result.tenantId,
      keyName: `${OIDC_KEY_PREFIX}${result.subject}`,
      grants: grantsOf(result.permissions),
      session: Object.freeze({ kind: 'oidc_jwt', expiresAt: result.expiresAt ?? null }),
    });
  }

  async #tenantExists(tenantId: string): Promise<boolean> {
    if (this.#knownTenants.has(tenantId)) return true;
    if ((await this.#deps.repository.getTenant(tenantId)) === null) return false;
    if (this.#knownTenants.size >= this.#limit) this.#knownTenants.clear();
    this.#knownTenants.add(tenantId);
    return true;
  }
}

/** The same credential with the same rights (a key re-read after a change of any credential). */
function sameActor(a: Actor, b: Actor): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'api_key' && b.kind === 'api_key') {
    if (a.tenantId !== b.tenantId || a.keyName !== b.keyName || a.grants.admin !== b.grants.admin) return false;
    if (a.grants.permissions.size !== b.grants.permissions.size) return false;
    for (const p of a.grants.permissions) if (!b.grants.permissions.has(p)) return false;
    return true;
  }
  if (a.kind === 'service' && b.kind === 'service') return a.serviceName === b.serviceName;
  return true;
}
