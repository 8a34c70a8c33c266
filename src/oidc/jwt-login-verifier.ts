import type { JwtAuthConfig } from '../config-jwt-auth.js';
import type { LoginJwtVerification, LoginJwtVerifier } from '../core/jwt-login.js';
import { IssuerKeys } from './oidc-verifier.js';

/**
 * Verifies login JWTs (`auth/<mount>/login`, docs/vault.md) with the same checks as OIDC bearer
 * tokens (src/oidc/oidc-verifier.ts: asymmetric signature by a key of the issuer's JWKS, `iss`,
 * `exp` required, `nbf`, 30 s of clock tolerance), one issuer per mount, and `aud` holding one of
 * the role's bound audiences. The role's other bounds (subject, claims) are the core's.
 */
export class JwtLoginVerifier implements LoginJwtVerifier {
  readonly #keys = new Map<string, IssuerKeys>();

  constructor(config: JwtAuthConfig, onUnavailable?: (error: unknown) => void) {
    for (const [path, mount] of config.mounts) {
      this.#keys.set(path, new IssuerKeys(mount.issuer, mount.jwksUrl, onUnavailable));
    }
  }

  async verify(mount: string, jwt: string, audiences: readonly string[]): Promise<LoginJwtVerification> {
    const keys = this.#keys.get(mount);
    if (keys === undefined || audiences.length === 0) return { ok: false, failure: 'bad_claims' };
    // `sub` is not required here: a role names its user claim, which the core checks.
    const result = await keys.verify(jwt, [...audiences], ['exp']);
    return result.ok ? { ok: true, claims: result.payload } : result;
  }
}
