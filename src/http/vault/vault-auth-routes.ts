import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CofferCore } from '../../core/coffer-core.js';

/**
 * Vault's `auth/` routes (`auth/token/lookup-self`, `renew-self`, `revoke-self`, `auth/jwt/login`),
 * registered under `/vault/v1` by the Vault facade. A route that takes no token (a login) says so
 * with `config: { anonymous: true }`; every other route is authenticated by the facade's hook.
 */
export function vaultAuthRoutes(_core: CofferCore): FastifyPluginAsyncTypebox {
  return async () => {
    // The token and JWT login routes are added here (issue 16, branch vault-auth).
  };
}
