import { ForbiddenError } from './errors.js';
import type { Grants, Permission } from './permissions.js';

/**
 * Who is calling. Services receive an actor, never a request: the facades authenticate and hand the
 * result to the core, which alone decides what the actor may do.
 */
export type Actor =
  /**
   * A tenant's API key: its own tenant only, never a managed store. Also a verified OIDC JWT and a
   * token issued by a login, which `session` tells apart (absent: a stored API key).
   */
  | {
      readonly kind: 'api_key';
      readonly tenantId: string;
      readonly keyName: string;
      readonly grants: Grants;
      readonly session?: CredentialSession;
    }
  /**
   * A platform service (Cloudflare `system/` endpoints): only the stores it manages, in tenants that
   * exist, and nothing else (no API keys, no audit, no quota, no unmanaged store, no new tenant).
   */
  | { readonly kind: 'service'; readonly serviceName: string }
  /** The local operator running the CLI against the data directory (file access is the credential). */
  | { readonly kind: 'operator' };

/**
 * What expires about a tenant credential that is not a stored API key (docs/adr/0015-issued-tokens-and-jwt-login.md):
 * a token issued by a login (its accessor, its expiry when authenticated) or an OIDC JWT (its `exp`).
 */
export type CredentialSession =
  | { readonly kind: 'issued_token'; readonly accessor: string; readonly expiresAt: number }
  | { readonly kind: 'oidc_jwt'; readonly expiresAt: number | null };

export const OPERATOR: Actor = Object.freeze({ kind: 'operator' });

/** Permissions a service holds inside the stores it manages. */
const SERVICE_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>([
  'secrets:read',
  'secrets:write',
  'secrets:set-value',
]);

/**
 * Who an entry point serves (docs/adr/0007-service-credentials.md). A tenant's APIs (Neostore, /v1,
 * envs, Cloudflare account routes) take tenant API keys; the platform's (Cloudflare `system/`
 * routes) take service credentials. The facade says which it is; the rule is here.
 */
export type Audience = 'tenant' | 'platform';

export function serviceNotAllowed(): ForbiddenError {
  return new ForbiddenError(
    'not_service',
    'service_not_allowed',
    'Service credentials work only on the stores they manage, through the Cloudflare system/ routes.',
  );
}

/** Refuses a credential that is not for this audience: a service on a tenant API, a key on system/. */
export function requireAudience(actor: Actor, audience: Audience): void {
  if (actor.kind === 'service' && audience !== 'platform') throw serviceNotAllowed();
  if (actor.kind === 'api_key' && audience !== 'tenant') {
    throw new ForbiddenError(
      'not_service',
      'credential_not_allowed',
      'These routes need a service credential; tenant API keys use the account routes.',
    );
  }
}

/**
 * Refuses a foreign tenant first (facades answer it as 403 or 404), then a missing permission. A
 * service holds no right on a tenant as such (its keys, audit, quota, unmanaged stores): it is
 * always refused here, so an operation is closed to services unless it opts in below.
 */
export function requirePermission(actor: Actor, tenantId: string, permission: Permission): void {
  switch (actor.kind) {
    case 'operator':
      return;
    case 'service':
      throw serviceNotAllowed();
    case 'api_key':
      if (actor.tenantId !== tenantId) {
        throw new ForbiddenError(
          'other_tenant',
          'other_tenant',
          'The API key does not belong to this tenant.',
        );
      }
      if (!actor.grants.admin && !actor.grants.permissions.has(permission)) {
        throw new ForbiddenError(
          'missing_permission',
          'missing_permission',
          `The API key lacks the '${permission}' permission.`,
        );
      }
  }
}

/** Whether `requirePermission` would let the actor through, for answers that say more to those who may know. */
export function holdsPermission(actor: Actor, tenantId: string, permission: Permission): boolean {
  switch (actor.kind) {
    case 'operator':
      return true;
    case 'service':
      return SERVICE_PERMISSIONS.has(permission);
    case 'api_key':
      return actor.tenantId === tenantId && (actor.grants.admin || actor.grants.permissions.has(permission));
  }
}

/**
 * `requirePermission` for an operation on one store that the caller names and the core then
 * resolves for this actor (`resolveStore`, or a lookup scoped by `managedScopeOf`): a service passes
 * with its store permissions, and the resolution keeps it to the stores it manages.
 */
export function requireStorePermission(actor: Actor, tenantId: string, permission: Permission): void {
  if (actor.kind === 'service') {
    if (!SERVICE_PERMISSIONS.has(permission)) throw serviceNotAllowed();
    return;
  }
  requirePermission(actor, tenantId, permission);
}

/** The manager whose stores this actor sees: a service its own, a tenant key the unmanaged ones. */
export function managedScopeOf(actor: Actor): string | null {
  return actor.kind === 'service' ? actor.serviceName : null;
}

export function actorLabel(actor: Actor): string {
  switch (actor.kind) {
    case 'operator':
      return 'operator';
    case 'service':
      return `service:${actor.serviceName}`;
    case 'api_key':
      return `key:${actor.keyName}`;
  }
}

/**
 * Admin-only operations (webhooks): the operator, or a key of the tenant holding `*`. A key holding
 * every named permission but not `*` is refused, as are services.
 */
export function requireAdmin(actor: Actor, tenantId: string, what: string): void {
  if (actor.kind === 'api_key' && actor.tenantId === tenantId && !actor.grants.admin) {
    throw new ForbiddenError(
      'missing_permission',
      'missing_permission',
      `Only an admin API key ('*') may ${what}.`,
    );
  }
  requirePermission(actor, tenantId, 'apikeys:write');
}
