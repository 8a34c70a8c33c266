import { ADMIN_PERMISSION, CANONICAL_PERMISSIONS, type Permission } from '../../src/core/permissions.js';

/**
 * The choices offered for a new key: Coffer's canonical set, imported from the core itself so the
 * console can never drift from what the server accepts, plus `*` (tenant admin).
 */
export const PERMISSION_HELP: Record<Permission, string> = {
  'secrets:read': 'list stores and secrets, read metadata',
  'secrets:reveal': 'read values',
  'secrets:write': 'create, edit and delete secrets and stores',
  'secrets:set-value': 'set new values',
  'apikeys:read': 'list API keys',
  'apikeys:write': 'create, enable, disable and delete API keys',
  'audit:read': "read this tenant's audit trail",
};

export const PERMISSION_CHOICES: readonly { readonly name: string; readonly help: string }[] = [
  ...CANONICAL_PERMISSIONS.map((name) => ({ name, help: PERMISSION_HELP[name] })),
  { name: ADMIN_PERMISSION, help: 'everything inside this tenant (admin)' },
];
