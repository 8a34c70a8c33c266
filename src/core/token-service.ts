import { randomBytes } from 'node:crypto';
import { generateToken, hashToken } from '../crypto/tokens.js';
import type { Repository } from './ports/repository.js';
import type { Actor, CredentialSession } from './actor.js';
import { PLATFORM_CHAIN, type AuditTrail } from './audit-trail.js';
import { safeName } from './audit-redaction.js';
import { type Caller, callContextOf } from './call-context.js';
import type { Clock } from './clock.js';
import {
  ForbiddenError,
  InvalidError,
  NotFoundError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
} from './errors.js';
import { boundsBroken, type JwtAuthMount, type LoginJwtVerifier, userOf } from './jwt-login.js';
import type { IssuedTokenRecord } from './model.js';
import { ADMIN_PERMISSION, CANONICAL_PERMISSIONS, grantsOf } from './permissions.js';
import type { FailureLimiter, RequestRateLimiter } from './rate-limits.js';

/**
 * What a credential reports as Vault policies (docs/adr/0015-issued-tokens-and-jwt-login.md): its
 * permission names made canonical (an alias becomes the names it stands for), sorted, and `*` as
 * itself. Coffer has no policy documents: the names are the rights, and a client shows them only.
 */
export function policiesOf(permissionNames: readonly string[]): string[] {
  const grants = grantsOf(permissionNames);
  const names: string[] = grants.admin ? [ADMIN_PERMISSION] : [];
  for (const p of CANONICAL_PERMISSIONS) if (!grants.admin && grants.permissions.has(p)) names.push(p);
  return names.sort();
}

/** What `lookup-self` says of the calling credential (times in epoch ms, lifetimes in seconds). */
export interface TokenDescription {
  /** An API key (never expires), an OIDC JWT used directly, or a token issued by a login. */
  readonly kind: 'api_key' | 'oidc_jwt' | 'issued_token';
  readonly tenantId: string;
  /** The issued token's accessor; '' for the others, which have none. */
  readonly accessor: string;
  readonly displayName: string;
  /** Where it came from: `auth/<mount>/login`, `api-keys/<name>` or `oidc`. */
  readonly path: string;
  readonly policies: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: number | null;
  readonly creationTtlSeconds: number;
  /** Null: it does not expire (an API key). */
  readonly expiresAt: number | null;
  /** Seconds left; 0 for a credential that does not expire (as Vault reports root tokens). */
  readonly ttlSeconds: number;
  readonly explicitMaxTtlSeconds: number;
  readonly renewable: boolean;
  readonly renewedAt: number | null;
}

/** An issued token, as a login answers it: the token itself is shown once, here. */
export interface IssuedToken {
  readonly token: string;
  readonly accessor: string;
  readonly tenantId: string;
  readonly policies: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly leaseDurationSeconds: number;
  readonly renewable: true;
}

export interface RenewedToken {
  readonly description: TokenDescription;
  /** The increment asked for (or the role's ttl) went past the token's max ttl, and was cut to it. */
  readonly capped: boolean;
  /** The lifetime asked for, in seconds, for the warning that says it was capped. */
  readonly askedSeconds: number;
}

export interface LoginContext {
  readonly client: string;
  readonly requestId: string;
}

export interface TokenServiceDeps {
  readonly repository: Repository;
  readonly clock: Clock;
  readonly audit: AuditTrail;
  /** Login paths and their roles; none: every login path is unknown. */
  readonly mounts: ReadonlyMap<string, JwtAuthMount>;
  readonly verifier: LoginJwtVerifier | null;
  /** The failed-authentication limit AuthService uses: a refused login is a failed authentication. */
  readonly failures: FailureLimiter | null;
  /**
   * Requests per credential (COFFER_KEY_RATE_LIMIT), AuthService's: a login takes one from the
   * budget of the workload it logs in (tenant and actor name), so a loop cannot mint without end.
   */
  readonly perKey?: RequestRateLimiter | null;
}

/** Expired tokens deleted by each login, so the table does not grow with every CI run. */
const PURGE_BATCH = 100;
const ACCESSOR_CHARS = 24;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function newAccessor(): string {
  // 62 of 256 byte values are kept per character (rejection sampling): no bias.
  let out = '';
  while (out.length < ACCESSOR_CHARS) {
    for (const byte of randomBytes(ACCESSOR_CHARS * 2)) {
      if (byte < 248 && out.length < ACCESSOR_CHARS) out += BASE62[byte % 62];
    }
  }
  return out;
}

const seconds = (ms: number) => Math.max(0, Math.floor(ms / 1000));

/** The actor name of an issued token: `:` and `/` never occur in API key names, so it cannot collide. */
export function issuedTokenKeyName(token: Pick<IssuedTokenRecord, 'mount' | 'role' | 'subject'>): string {
  return `login:${token.mount}/${token.role}:${token.subject}`;
}

function refused(message: string, reason: string): UnauthenticatedError {
  return new UnauthenticatedError('login_refused', message, reason);
}

function selfOnly(actor: Actor): Extract<Actor, { kind: 'api_key' }> {
  if (actor.kind !== 'api_key') {
    throw new ForbiddenError(
      'not_service',
      'credential_not_allowed',
      'Only a tenant credential (an API key, an OIDC token or a token issued by a login) has a self to look up.',
    );
  }
  return actor;
}

/**
 * Tokens issued by a login, and what a credential says of itself (Vault's `auth/token/*-self` and
 * `auth/<mount>/login`). Authentication of issued tokens is AuthService's (the one auth path of
 * every facade); this issues, describes, renews and revokes them.
 */
export class TokenService {
  readonly #deps: TokenServiceDeps;

  constructor(deps: TokenServiceDeps) {
    this.#deps = deps;
  }

  /** Whether a login path exists (a facade answers an unknown one as an unknown route). */
  hasMount(path: string): boolean {
    return this.#deps.mounts.has(path);
  }

  /**
   * A JWT login: the JWT verified against the mount's issuer and the role's bounds, then a token of
   * the role's tenant and permissions, valid for the role's ttl. Every refusal counts against the
   * client's failed-authentication limit, and a blocked client is refused before any check.
   */
  async login(
    input: { readonly mount: string; readonly role: string; readonly jwt: string },
    context: LoginContext,
  ): Promise<IssuedToken> {
    const failures = this.#deps.failures;
    const blocked = failures?.blocked(context.client) ?? null;
    if (blocked !== null) {
      throw new RateLimitedError('too_many_failed_authentications', blocked.seconds, {
        until: blocked.until,
        client: context.client,
      });
    }
    try {
      return await this.#login(input, context);
    } catch (error) {
      if (error instanceof UnauthenticatedError) failures?.recordFailure(context.client);
      throw error;
    }
  }

  async #login(
    input: { readonly mount: string; readonly role: string; readonly jwt: string },
    context: LoginContext,
  ): Promise<IssuedToken> {
    const mount = this.#deps.mounts.get(input.mount);
    if (mount === undefined || this.#deps.verifier === null) {
      throw new NotFoundError('route_not_found', 'No such endpoint.');
    }
    if (input.role === '') throw refused('missing role', 'login_missing_role');
    const role = mount.roles.get(input.role);
    if (role === undefined) {
      throw refused(
        `role ${JSON.stringify(input.role.slice(0, 64))} could not be found`,
        'login_unknown_role',
      );
    }
    if (input.jwt === '') throw refused('missing token', 'login_missing_jwt');
    const verified = await this.#deps.verifier.verify(mount.path, input.jwt, role.boundAudiences);
    if (!verified.ok) {
      if (verified.failure === 'unavailable') {
        throw new UnavailableError(
          'identity_provider_unavailable',
          'The token cannot be verified right now.',
        );
      }
      // One message for every failure of the token itself: which check failed is in the metrics.
      throw refused(
        'error validating token: the JWT is not valid for this role',
        `login_${verified.failure}`,
      );
    }
    const broken = boundsBroken(role, verified.claims);
    if (broken !== null) throw refused(`error validating claims: ${broken}`, 'login_bad_claims');
    const subject = userOf(role, verified.claims);
    if (subject === null) {
      throw refused(
        `error validating claims: claim ${JSON.stringify(role.userClaim)} not found or not a name`,
        'login_no_user_claim',
      );
    }
    if ((await this.#deps.repository.getTenant(role.tenantId)) === null) {
      // Tenants are made by the operator, never by a login: the role names one that does not exist.
      throw refused(
        `role ${JSON.stringify(role.name)} names a tenant that does not exist`,
        'login_unknown_tenant',
      );
    }

    const token = generateToken();
    const now = this.#deps.clock.now();
    const record: IssuedTokenRecord = {
      tokenHash: hashToken(token),
      accessor: newAccessor(),
      tenantId: role.tenantId,
      mount: mount.path,
      role: role.name,
      subject,
      permissions: role.permissions,
      ttlMs: role.ttlSeconds * 1000,
      createdAt: now,
      expiresAt: now + Math.min(role.ttlSeconds, role.maxTtlSeconds) * 1000,
      maxExpiresAt: now + role.maxTtlSeconds * 1000,
      renewedAt: null,
    };
    const actor: Actor = Object.freeze({
      kind: 'api_key',
      tenantId: record.tenantId,
      keyName: issuedTokenKeyName(record),
      grants: grantsOf(record.permissions),
      session: { kind: 'issued_token' as const, accessor: record.accessor, expiresAt: record.expiresAt },
    });
    const wait = this.#deps.perKey?.take(`key:${record.tenantId}/${issuedTokenKeyName(record)}`) ?? 0;
    if (wait > 0) throw new RateLimitedError('key_rate_limited', wait);
    const ctx = { actor, requestId: context.requestId, clientAddress: context.client };
    await this.#deps.audit.change(
      ctx,
      {
        tenantId: record.tenantId,
        action: 'token.login',
        resource: `auth/${safeName(mount.path)}/role:${safeName(role.name)}/token:${record.accessor}`,
      },
      async (tx) => {
        await tx.purgeExpiredTokens(now, PURGE_BATCH);
        if (!(await tx.insertIssuedToken(record))) {
          throw new UnavailableError('write_conflict', 'The token could not be issued; retry.');
        }
      },
    );
    return {
      token,
      accessor: record.accessor,
      tenantId: record.tenantId,
      policies: policiesOf(record.permissions),
      metadata: { role: role.name },
      leaseDurationSeconds: seconds(record.expiresAt - now),
      renewable: true,
    };
  }

  /** What the calling credential is: tenant, policies, lifetimes. Any tenant credential may ask. */
  async lookupSelf(caller: Caller): Promise<TokenDescription> {
    const ctx = callContextOf(caller);
    const actor = ctx.actor;
    const tenantId = actor.kind === 'api_key' ? actor.tenantId : PLATFORM_CHAIN;
    return this.#deps.audit.read(
      ctx,
      { tenantId, action: 'token.lookup-self', resource: 'token:self' },
      async () => this.#describe(selfOnly(actor)),
    );
  }

  /**
   * Extends an issued token by `incrementSeconds` (default: its role's ttl) from now, never past its
   * max ttl. An API key does not expire and an OIDC JWT's lifetime is its issuer's: neither renews.
   */
  async renewSelf(caller: Caller, incrementSeconds: number | null): Promise<RenewedToken> {
    const ctx = callContextOf(caller);
    const actor = ctx.actor;
    const tenantId = actor.kind === 'api_key' ? actor.tenantId : PLATFORM_CHAIN;
    const entry = { tenantId, action: 'token.renew-self', resource: this.#resourceOf(actor) };
    let session: CredentialSession | undefined;
    await this.#deps.audit.check(ctx, entry, () => {
      session = selfOnly(actor).session;
      if (session?.kind !== 'issued_token') {
        throw new InvalidError(
          'token_not_renewable',
          session === undefined
            ? 'lease is not renewable: this is a Coffer API key, which does not expire (ttl 0); only tokens issued by a login are renewed.'
            : 'lease is not renewable: this is a JWT from the identity provider; get a new one from it, or log in (auth/<mount>/login) for a renewable Coffer token.',
        );
      }
    });
    if (session?.kind !== 'issued_token') throw new UnauthenticatedError();
    const { accessor } = session;
    let asked = 0;
    let capped = false;
    let renewedAt = 0;
    const renewed = await this.#deps.audit.change(ctx, entry, async (tx) => {
      const current = await tx.getIssuedToken(accessor);
      const now = this.#deps.clock.now();
      renewedAt = now;
      // Revoked or expired since this request authenticated: as if it had not.
      if (current === null || current.expiresAt <= now) throw new UnauthenticatedError();
      asked = incrementSeconds ?? seconds(current.ttlMs);
      const wanted = now + asked * 1000;
      capped = wanted > current.maxExpiresAt;
      const updated = await tx.renewIssuedToken(accessor, Math.min(wanted, current.maxExpiresAt), now);
      if (updated === null) throw new UnauthenticatedError();
      return updated;
    });
    // Described as of the renewal: its lease is what was granted, not a second less.
    return { description: this.#describeIssued(renewed, renewedAt), capped, askedSeconds: asked };
  }

  /**
   * Revokes an issued token: refused from the next request on, on every node. A long-lived API key
   * is refused instead (docs/adr/0015-issued-tokens-and-jwt-login.md): a cleanup step that calls
   * revoke-self must not disable a shared key by accident; keys are disabled through the key routes.
   */
  async revokeSelf(caller: Caller): Promise<void> {
    const ctx = callContextOf(caller);
    const actor = ctx.actor;
    const tenantId = actor.kind === 'api_key' ? actor.tenantId : PLATFORM_CHAIN;
    const entry = { tenantId, action: 'token.revoke-self', resource: this.#resourceOf(actor) };
    let session: CredentialSession | undefined;
    await this.#deps.audit.check(ctx, entry, () => {
      session = selfOnly(actor).session;
      if (session?.kind !== 'issued_token') {
        throw new InvalidError(
          'token_not_revocable',
          session === undefined
            ? 'revoke-self revokes tokens issued by a login; this is a long-lived Coffer API key, which it leaves alone: disable or delete it through the API-key routes.'
            : 'revoke-self revokes tokens issued by a login; a JWT from the identity provider ends at its own expiry.',
        );
      }
    });
    if (session?.kind !== 'issued_token') throw new UnauthenticatedError();
    const { accessor } = session;
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      // Already gone (revoked by a concurrent request): revoked all the same.
      await tx.deleteIssuedToken(accessor);
    });
  }

  #resourceOf(actor: Actor): string {
    if (actor.kind === 'api_key' && actor.session?.kind === 'issued_token') {
      return `token:${actor.session.accessor}`;
    }
    return 'token:self';
  }

  async #describe(actor: Extract<Actor, { kind: 'api_key' }>): Promise<TokenDescription> {
    const now = this.#deps.clock.now();
    const session = actor.session;
    if (session?.kind === 'issued_token') {
      const token = await this.#deps.repository.getIssuedToken(session.accessor);
      if (token === null || token.expiresAt <= now) throw new UnauthenticatedError();
      return this.#describeIssued(token, now);
    }
    if (session?.kind === 'oidc_jwt') {
      return {
        kind: 'oidc_jwt',
        tenantId: actor.tenantId,
        accessor: '',
        displayName: actor.keyName,
        path: 'oidc',
        policies: policiesOf(permissionNamesOf(actor)),
        // An object, never null: clients validate `meta` as one (node-vault's response schema).
        metadata: {},
        createdAt: null,
        creationTtlSeconds: 0,
        expiresAt: session.expiresAt,
        ttlSeconds: session.expiresAt === null ? 0 : seconds(session.expiresAt - now),
        explicitMaxTtlSeconds: 0,
        renewable: false,
        renewedAt: null,
      };
    }
    const key = await this.#deps.repository.getApiKey(actor.tenantId, actor.keyName);
    // Deleted or disabled since this request authenticated: as if it had not.
    if (key === null || !key.enabled) throw new UnauthenticatedError();
    return {
      kind: 'api_key',
      tenantId: key.tenantId,
      accessor: '',
      displayName: `apikey-${key.name}`,
      path: `api-keys/${key.name}`,
      policies: policiesOf(key.permissions),
      metadata: { api_key: key.name },
      createdAt: key.createdAt,
      creationTtlSeconds: 0,
      expiresAt: null,
      ttlSeconds: 0,
      explicitMaxTtlSeconds: 0,
      renewable: false,
      renewedAt: null,
    };
  }

  #describeIssued(token: IssuedTokenRecord, now: number): TokenDescription {
    return {
      kind: 'issued_token',
      tenantId: token.tenantId,
      accessor: token.accessor,
      displayName: `${token.mount}-${token.subject}`,
      path: `auth/${token.mount}/login`,
      policies: policiesOf(token.permissions),
      metadata: { role: token.role },
      createdAt: token.createdAt,
      creationTtlSeconds: seconds(Math.min(token.ttlMs, token.maxExpiresAt - token.createdAt)),
      expiresAt: token.expiresAt,
      ttlSeconds: seconds(token.expiresAt - now),
      explicitMaxTtlSeconds: seconds(token.maxExpiresAt - token.createdAt),
      renewable: token.expiresAt < token.maxExpiresAt,
      renewedAt: token.renewedAt,
    };
  }
}

/** An OIDC actor's grants back as names, for its policies (it has no stored names). */
function permissionNamesOf(actor: Extract<Actor, { kind: 'api_key' }>): string[] {
  return actor.grants.admin ? [ADMIN_PERMISSION] : [...actor.grants.permissions];
}
