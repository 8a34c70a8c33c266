import { hashesEqual, hashToken, isWellFormedToken } from '../crypto/tokens.js';
import type { RepositoryReads } from '../storage/repository.js';
import type { Actor } from './actor.js';
import { UnauthenticatedError } from './errors.js';
import { grantsOf } from './permissions.js';

export interface AuthServiceDeps {
  readonly repository: Pick<RepositoryReads, 'findApiKeyByHash' | 'findServiceByHash'>;
}

function invalid(): UnauthenticatedError {
  return new UnauthenticatedError('invalid_credentials', 'The API key is not valid.');
}

/**
 * Turns a presented token into an actor. Every failure is the same Unauthenticated error, so a
 * caller cannot tell an unknown token from a disabled or deleted one.
 */
export class AuthService {
  readonly #deps: AuthServiceDeps;

  constructor(deps: AuthServiceDeps) {
    this.#deps = deps;
  }

  async authenticate(token: string | undefined): Promise<Actor> {
    if (token === undefined || token === '') {
      throw new UnauthenticatedError('missing_credentials', 'An API key is required.');
    }
    // Shape and checksum are public knowledge: refusing noise here costs no database lookup.
    if (!isWellFormedToken(token))
      throw new UnauthenticatedError('invalid_credentials', 'The API key is not valid.');
    const hash = hashToken(token);
    const key = await this.#deps.repository.findApiKeyByHash(hash);
    if (key !== null) {
      if (!hashesEqual(key.tokenHash, hash) || !key.enabled) throw invalid();
      return {
        kind: 'api_key',
        tenantId: key.tenantId,
        keyName: key.name,
        grants: grantsOf(key.permissions),
      };
    }
    const service = await this.#deps.repository.findServiceByHash(hash);
    if (service === null || !hashesEqual(service.tokenHash, hash) || !service.enabled) throw invalid();
    return { kind: 'service', serviceName: service.name };
  }
}
