import type { Keyring } from '../crypto/keyring.js';
import type { Repository } from '../storage/repository.js';
import { ApiKeyService } from './api-key-service.js';
import { AuthService } from './auth-service.js';
import { type Clock, systemClock } from './clock.js';
import { SecretService } from './secret-service.js';

/** The core's services, wired once over one repository and keyring; every facade and the CLI use these. */
export interface CofferCore {
  readonly auth: AuthService;
  readonly secrets: SecretService;
  readonly apiKeys: ApiKeyService;
}

export function createCore(deps: { repository: Repository; keyring: Keyring; clock?: Clock }): CofferCore {
  const clock = deps.clock ?? systemClock;
  return {
    auth: new AuthService({ repository: deps.repository }),
    secrets: new SecretService({ repository: deps.repository, keyring: deps.keyring, clock }),
    apiKeys: new ApiKeyService({ repository: deps.repository, clock }),
  };
}
