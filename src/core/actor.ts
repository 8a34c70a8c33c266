import { ForbiddenError } from './errors.js';
import type { Grants, Permission } from './permissions.js';

/**
 * Who is calling. Services receive an actor, never a request: the facades authenticate and hand the
 * result to the core, which alone decides what the actor may do.
 */
export type Actor =
  | {
      readonly kind: 'api_key';
      readonly tenantId: string;
      readonly keyName: string;
      readonly grants: Grants;
    }
  /** The local operator running the CLI against the data directory (file access is the credential). */
  | { readonly kind: 'operator' };

export const OPERATOR: Actor = Object.freeze({ kind: 'operator' });

/** Refuses a foreign tenant first (facades answer it as 403 or 404), then a missing permission. */
export function requirePermission(actor: Actor, tenantId: string, permission: Permission): void {
  if (actor.kind === 'operator') return;
  if (actor.tenantId !== tenantId) {
    throw new ForbiddenError('other_tenant', 'other_tenant', 'The API key does not belong to this tenant.');
  }
  if (!actor.grants.admin && !actor.grants.permissions.has(permission)) {
    throw new ForbiddenError(
      'missing_permission',
      'missing_permission',
      `The API key lacks the '${permission}' permission.`,
    );
  }
}

export function actorLabel(actor: Actor): string {
  return actor.kind === 'operator' ? 'operator' : `key:${actor.keyName}`;
}
