import type { BearerFailure } from './bearer-verifier.js';

/**
 * JWT login roles (Vault's JWT auth method, docs/vault.md "Logging in with a JWT"): a workload
 * presents a JWT from an identity provider it already has (GitHub Actions OIDC, a Kubernetes
 * service-account token) and a role name; the role says which tokens it accepts (audiences,
 * subject, claims) and what the issued Coffer token may do (tenant, permissions, lifetimes).
 * Roles are configuration, parsed once at start-up (src/config-jwt-auth.ts); the core only reads them.
 */
export interface JwtRole {
  readonly name: string;
  readonly tenantId: string;
  /** Coffer permission names (validated at start-up): the issued token's grants and policies. */
  readonly permissions: readonly string[];
  /** The token's `aud` must hold one of these (checked by the verifier with the signature). */
  readonly boundAudiences: readonly string[];
  /** When set, `sub` must equal it. */
  readonly boundSubject: string | null;
  /** Claim (a name, or a JSON pointer `/a/b`) → accepted values; every claim must match one. */
  readonly boundClaims: ReadonlyMap<string, readonly string[]>;
  /** `string`: exact values; `glob`: `*` matches any run of characters. */
  readonly boundClaimsType: 'string' | 'glob';
  /** The claim naming the caller (default `sub`): the token's display name and audit actor. */
  readonly userClaim: string;
  readonly ttlSeconds: number;
  readonly maxTtlSeconds: number;
}

/** One login path, `auth/<path>/login`: one issuer, its roles. */
export interface JwtAuthMount {
  readonly path: string;
  readonly roles: ReadonlyMap<string, JwtRole>;
}

/** The verified claims of a login JWT, or why it was refused. */
export type LoginJwtVerification =
  | { readonly ok: true; readonly claims: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly failure: BearerFailure };

/**
 * Checks a login JWT's signature against the mount's issuer keys, `iss`, `exp`/`nbf` and that `aud`
 * holds one of `audiences` (src/oidc/jwt-login-verifier.ts); the core checks the role's other bounds.
 */
export interface LoginJwtVerifier {
  verify(mount: string, jwt: string, audiences: readonly string[]): Promise<LoginJwtVerification>;
}

/** The value at a claim name, or at a JSON pointer (`/a/b`, RFC 6901) into nested claims. */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (!name.startsWith('/')) return claims[name];
  let value: unknown = claims;
  for (const raw of name.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function globMatches(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last)) {
    return false;
  }
  let at = first.length;
  const end = value.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = value.indexOf(middle, at);
    if (found < 0 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

/** A claim's values as strings: a string, a number or a boolean, or a list of those. */
function claimValues(value: unknown): string[] {
  const one = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : typeof v === 'number' || typeof v === 'boolean' ? [String(v)] : [];
  return Array.isArray(value) ? value.flatMap(one) : one(value);
}

/**
 * The first bound the claims break, said as Vault says it (the caller holds the JWT and may read its
 * claims; the role's bounds are what it must change), or null when every bound holds.
 */
export function boundsBroken(role: JwtRole, claims: Readonly<Record<string, unknown>>): string | null {
  if (role.boundSubject !== null && claims.sub !== role.boundSubject) {
    return 'sub claim does not match bound subject';
  }
  for (const [name, accepted] of role.boundClaims) {
    const values = claimValues(claimAt(claims, name));
    const matches = (value: string) =>
      accepted.some((a) => (role.boundClaimsType === 'glob' ? globMatches(a, value) : a === value));
    if (values.length === 0) return `claim ${JSON.stringify(name)} is missing`;
    if (!values.some(matches)) {
      return `claim ${JSON.stringify(name)} does not match any associated bound claim values`;
    }
  }
  return null;
}

/** Longest user claim value kept (it names the caller in audit events). */
export const MAX_USER_CLAIM_LENGTH = 255;

/** The role's user claim as a name: a string or number of 1–255 characters with no control character. */
export function userOf(role: JwtRole, claims: Readonly<Record<string, unknown>>): string | null {
  const value = claimAt(claims, role.userClaim);
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_USER_CLAIM_LENGTH) return null;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return null;
  }
  return text;
}

/**
 * A duration as Vault takes one: whole seconds (a number or a digit string) or Go-style units
 * (`90s`, `15m`, `1h30m`, `2d` is not Go's and is refused). Null when it is not one.
 */
export function parseDurationSeconds(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 32) return null;
  if (/^\d+$/.test(value)) return Number(value);
  if (!/^(\d+(h|m|s))+$/.test(value)) return null;
  let seconds = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)(h|m|s)/g)) {
    seconds += Number(n) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  }
  return Number.isSafeInteger(seconds) ? seconds : null;
}
