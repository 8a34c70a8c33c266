import { InvalidError } from './errors.js';

/**
 * Coffer's canonical permissions. Every facade's own names are aliases of these (docs/permissions.md).
 * `*` grants everything inside the key's own tenant, never anything platform-wide.
 */
export const CANONICAL_PERMISSIONS = [
  'secrets:read',
  'secrets:reveal',
  'secrets:write',
  'secrets:set-value',
  'apikeys:read',
  'apikeys:write',
  'audit:read',
] as const;

export type Permission = (typeof CANONICAL_PERMISSIONS)[number];
export const ADMIN_PERMISSION = '*';

const ALIASES: ReadonlyMap<string, readonly Permission[]> = new Map<string, readonly Permission[]>([
  ['Secret.Read', ['secrets:read', 'secrets:reveal']],
  ['Secret.Write', ['secrets:write', 'secrets:set-value']],
  ['Secrets Store Read', ['secrets:read']],
  // Cloudflare's read operations accept either group: its Write group includes reading metadata.
  ['Secrets Store Write', ['secrets:read', 'secrets:write', 'secrets:set-value']],
  ['tenant.apiKey:read', ['apikeys:read']],
  ['tenant.apiKey:write', ['apikeys:write']],
  ...CANONICAL_PERMISSIONS.map((p): [string, readonly Permission[]] => [p, [p]]),
  [ADMIN_PERMISSION, CANONICAL_PERMISSIONS],
]);

/** Every name a key may be given: canonical names, `*`, and the facades' aliases. */
export const KNOWN_PERMISSION_NAMES: readonly string[] = [...ALIASES.keys()];

/** A key's effective rights, computed once from the names it was given. */
export interface Grants {
  readonly admin: boolean;
  readonly permissions: ReadonlySet<Permission>;
}

export function isKnownPermission(name: string): boolean {
  return ALIASES.has(name);
}

/** Validates names (400 on an unknown one) and returns them de-duplicated, in the order given. */
export function normalisePermissionNames(names: readonly string[], field = 'permissions'): string[] {
  const unknown = names.filter((n) => !ALIASES.has(n));
  if (unknown.length > 0) {
    throw new InvalidError(
      'unknown_permission',
      `Unknown permission: ${unknown.map((n) => JSON.stringify(n.slice(0, 64))).join(', ')}. Known: ${KNOWN_PERMISSION_NAMES.join(', ')}.`,
      {
        [field]: unknown.map(
          (n) =>
            `Unknown permission ${JSON.stringify(n.slice(0, 64))}. Known: ${KNOWN_PERMISSION_NAMES.join(', ')}.`,
        ),
      },
    );
  }
  return [...new Set(names)];
}

export function grantsOf(names: readonly string[]): Grants {
  const permissions = new Set<Permission>();
  let admin = false;
  for (const name of names) {
    if (name === ADMIN_PERMISSION) admin = true;
    for (const p of ALIASES.get(name) ?? []) permissions.add(p);
  }
  return { admin, permissions };
}

/** True when `holder` holds every right in `wanted`: a key can never hand out more than it has. */
export function coversGrants(holder: Grants, wanted: Grants): boolean {
  if (holder.admin) return true;
  if (wanted.admin) return false;
  for (const p of wanted.permissions) if (!holder.permissions.has(p)) return false;
  return true;
}
