import type { Repository } from './ports/repository.js';
import { OPERATOR } from './actor.js';
import type { ApiKeyService, CreatedApiKey } from './api-key-service.js';
import { ConflictError } from './errors.js';
import { ADMIN_PERMISSION } from './permissions.js';

export const BOOTSTRAP_TENANT = 'default';
export const BOOTSTRAP_KEY_NAME = 'admin';
const BOOTSTRAPPED = 'bootstrapped_at';

/**
 * First start: with no API key at all, create tenant `default` with a `*` key named `admin` and hand
 * its token back once. Recorded in the database, so it never happens again, even if every key is
 * deleted later (the CLI creates keys then).
 */
export async function bootstrapFirstAdminKey(
  repository: Repository,
  apiKeys: ApiKeyService,
): Promise<CreatedApiKey | null> {
  if ((await repository.getMeta(BOOTSTRAPPED)) !== null) return null;
  if ((await repository.countApiKeys()) > 0) {
    await repository.transaction((tx) => tx.setMeta(BOOTSTRAPPED, new Date().toISOString()));
    return null;
  }
  try {
    const created = await apiKeys.create(OPERATOR, BOOTSTRAP_TENANT, {
      name: BOOTSTRAP_KEY_NAME,
      permissions: [ADMIN_PERMISSION],
    });
    await repository.transaction((tx) => tx.setMeta(BOOTSTRAPPED, new Date().toISOString()));
    return created;
  } catch (error) {
    // Another process bootstrapped at the same moment: its token is the one that was printed.
    if (error instanceof ConflictError) return null;
    throw error;
  }
}
