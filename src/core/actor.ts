import { ForbiddenError } from './errors.js';
import type { Grants, Permission } from './permissions.js';

/**
 * Who is calling. Services receive an actor, never a request: the facades authenticate and hand the
 * result to the core, which alone decides what the actor may do.
 */
export type Actor =
  /** A tenant's API key: its own tenant only, never a managed store. */
  | {
      readonly kind: 'api_key';
      readonly tenantId: string;
      readonly keyName: string;
      readonly grants: Grants;
    }
  /**
   * A platform service (Cloudflare `system/` endpoints): any tenant, but only the stores it manages,
   * and nothing else (no API keys, no unmanaged store).
   */
  | { readonly kind: 'service'; readonly serviceName: string }
  /** The local operator running the CLI against the data directory (file access is the credential). */
  | { readonly kind: 'operator' };

export const OPERATOR: Actor = Object.freeze({ kind: 'operator' });

/** Permissions a service holds inside the stores it manages. */
const SERVICE_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>([
  'secrets:read',
  'secrets:write',
  'secrets:set-value',
]);

/** Refuses a foreign tenant first (facades answer it as 403 or 404), then a missing permission. */
export function requirePermission(actor: Actor, tenantId: string, permission: Permission): void {
  switch (actor.kind) {
    case 'operator':
      return;
    case 'service':
      if (!SERVICE_PERMISSIONS.has(permission)) {
        throw new ForbiddenError('not_service', 'service_not_allowed', 'Service credentials cannot do this.');
      }
      return;
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
