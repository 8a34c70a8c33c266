import { hashesEqual, hashToken, hasTokenShape, isWellFormedToken } from '../crypto/tokens.js';
import type { Repository } from '../storage/repository.js';
import type { Actor } from './actor.js';
import { UnauthenticatedError } from './errors.js';
import { grantsOf } from './permissions.js';

export interface AuthServiceDeps {
  readonly repository: Pick<Repository, 'findApiKeyByHash' | 'findServiceByHash' | 'credentialsEpoch'>;
  /** Most token lookups kept (docs/security.md, "Caches"). */
  readonly cacheLimit?: number;
}

function invalid(): UnauthenticatedError {
  return new UnauthenticatedError('invalid_credentials', 'The API key is not valid.');
}

/**
 * Turns a presented token into an actor. Every failure is the same Unauthenticated error, so a
 * caller cannot tell an unknown token from a disabled or deleted one.
 *
 * Successful lookups are cached by token hash while the repository's credentials epoch stays the
 * same; any change to any key or service credential, in any process, empties the cache. Failures
 * are never cached, so the cache cannot be filled with noise.
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

  async authenticate(token: string | undefined): Promise<Actor> {
    if (token === undefined || token === '') {
      throw new UnauthenticatedError('missing_credentials', 'An API key is required.');
    }
    if (!hasTokenShape(token)) throw invalid();
    const hash = hashToken(token);
    const cacheKey = hash.toString('base64');
    const epoch = this.#epoch();
    if (epoch !== this.#cacheEpoch) {
      this.#cache.clear();
      this.#cacheEpoch = epoch;
    }
    const cached = this.#cache.get(cacheKey);
    // A cached token passed the checksum when it was first looked up.
    if (cached !== undefined) return cached;
    // Shape and checksum are public knowledge: refusing noise here costs no database lookup.
    if (!isWellFormedToken(token)) throw invalid();

    const actor = await this.#lookup(hash);
    // Cache only if nothing changed while we looked (NaN never equals itself: no epoch, no cache).
    if (this.#epoch() === epoch && this.#cacheEpoch === epoch) {
      if (this.#cache.size >= this.#limit) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(cacheKey, actor);
    }
    return actor;
  }

  async #lookup(hash: Buffer): Promise<Actor> {
    const key = await this.#deps.repository.findApiKeyByHash(hash);
    if (key !== null) {
      if (!hashesEqual(key.tokenHash, hash) || !key.enabled) throw invalid();
      return Object.freeze({
        kind: 'api_key',
        tenantId: key.tenantId,
        keyName: key.name,
        grants: grantsOf(key.permissions),
      });
    }
    const service = await this.#deps.repository.findServiceByHash(hash);
    if (service === null || !hashesEqual(service.tokenHash, hash) || !service.enabled) throw invalid();
    return Object.freeze({ kind: 'service', serviceName: service.name });
  }
}
