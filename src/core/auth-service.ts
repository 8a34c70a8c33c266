import { hashesEqual, hashToken, isWellFormedToken } from '../crypto/tokens.js';
import type { Repository } from '../storage/repository.js';
import type { Actor } from './actor.js';
import { RateLimitedError, UnauthenticatedError } from './errors.js';
import { grantsOf } from './permissions.js';
import type { FailureLimiter, RequestRateLimiter } from './rate-limits.js';

export interface AuthServiceDeps {
  readonly repository: Pick<Repository, 'findApiKeyByHash' | 'findServiceByHash' | 'credentialsEpoch'>;
  /** Most token lookups kept (docs/security.md, "Caches"). */
  readonly cacheLimit?: number;
  /** Failed authentications per client address (COFFER_AUTH_FAILURE_LIMIT); absent: unlimited. */
  readonly failures?: FailureLimiter | null;
  /** Requests per credential (COFFER_KEY_RATE_LIMIT); absent: unlimited. */
  readonly perKey?: RequestRateLimiter | null;
}

/** Who is presenting the token, as far as the transport can tell. */
export interface AuthContext {
  /** The client's address (behind a trusted proxy, the forwarded one); absent: not rate-limited. */
  readonly client?: string;
}

function invalid(): UnauthenticatedError {
  return new UnauthenticatedError('invalid_credentials', 'The API key is not valid.');
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
 * Turns a presented token into an actor. Every failure is the same Unauthenticated error, so a
 * caller cannot tell an unknown token from a disabled or deleted one, by the answer or by the work
 * done: a token that is not cached costs exactly two indexed lookups (API keys, then services)
 * whatever it turns out to be.
 *
 * Successful lookups are cached by token hash while the repository's credentials epoch stays the
 * same; any change to any key or service credential, in any process, empties the cache. Failures
 * (unknown, disabled, deleted) are never cached, so the cache cannot be filled with noise.
 *
 * Brute force: a client address with too many failures is refused (RateLimited) before any
 * lookup, except for a token this process has already verified (a cache hit), so a valid key
 * behind a shared address keeps working while someone guesses from it.
 */
export class AuthService {
  readonly #deps: AuthServiceDeps;
  readonly #cache = new Map<string, Actor>();
  readonly #limit: number;
  #cacheEpoch = Number.NaN;

  constructor(deps: AuthServiceDeps) {
    this.#deps = deps;
    this.#limit = deps.cacheLimit ?? 10_000;
  }

  #epoch(): number {
    return this.#deps.repository.credentialsEpoch();
  }

  async authenticate(token: string | undefined, context: AuthContext = {}): Promise<Actor> {
    if (token === undefined || token === '') {
      throw new UnauthenticatedError('missing_credentials', 'An API key is required.');
    }
    // Shape and checksum are public knowledge: refusing noise here costs no database lookup.
    const wellFormed = isWellFormedToken(token);
    const hash = wellFormed ? hashToken(token) : null;
    const cacheKey = hash?.toString('base64');
    const epoch = this.#epoch();
    if (epoch !== this.#cacheEpoch) {
      this.#cache.clear();
      this.#cacheEpoch = epoch;
    }
    const cached = cacheKey === undefined ? undefined : this.#cache.get(cacheKey);
    if (cached !== undefined) return this.#admit(cached);

    const { client } = context;
    const failures = this.#deps.failures ?? null;
    if (failures !== null && client !== undefined) {
      const wait = failures.blockedFor(client);
      if (wait > 0) throw new RateLimitedError('too_many_failed_authentications', wait);
    }
    let actor: Actor;
    try {
      if (hash === null || cacheKey === undefined) throw invalid();
      actor = await this.#lookup(hash);
    } catch (error) {
      if (error instanceof UnauthenticatedError && failures !== null && client !== undefined) {
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
    return this.#admit(actor);
  }

  /** The per-credential request rate, applied to every authenticated request, cached or not. */
  #admit(actor: Actor): Actor {
    const perKey = this.#deps.perKey ?? null;
    if (perKey !== null) {
      const wait = perKey.take(limiterKey(actor));
      if (wait > 0) throw new RateLimitedError('key_rate_limited', wait);
    }
    return actor;
  }

  async #lookup(hash: Buffer): Promise<Actor> {
    // Both lookups always run, and in the same order, so an unknown token, a disabled key and a
    // disabled service cost the same (no timing oracle telling which kind of credential exists).
    const key = await this.#deps.repository.findApiKeyByHash(hash);
    const service = await this.#deps.repository.findServiceByHash(hash);
    if (key !== null && hashesEqual(key.tokenHash, hash) && key.enabled) {
      return Object.freeze({
        kind: 'api_key',
        tenantId: key.tenantId,
        keyName: key.name,
        grants: grantsOf(key.permissions),
      });
    }
    if (service !== null && hashesEqual(service.tokenHash, hash) && service.enabled) {
      return Object.freeze({ kind: 'service', serviceName: service.name });
    }
    throw invalid();
  }
}
