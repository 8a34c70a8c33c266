import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Actor,
  actorLabel,
  type Audience,
  holdsPermission,
  managedScopeOf,
  OPERATOR,
  requireAudience,
  requirePermission,
  requireStorePermission,
} from '../../src/core/actor.js';
import { ForbiddenError, InvalidError } from '../../src/core/errors.js';
import {
  ADMIN_PERMISSION,
  CANONICAL_PERMISSIONS,
  coversGrants,
  type Grants,
  grantsOf,
  isKnownPermission,
  KNOWN_PERMISSION_NAMES,
  normalisePermissionNames,
  type Permission,
} from '../../src/core/permissions.js';

/**
 * The core's authorization rules as plain functions (src/core/actor.ts, src/core/permissions.ts):
 * every actor kind against every permission and audience, and the permission names of
 * docs/permissions.md. The HTTP matrices prove the facades apply these rules; this proves the rules
 * themselves, each branch on its own, in milliseconds (it is what `npm run mutation` runs).
 */
const TENANT = 'acme';
const ALL: readonly Permission[] = [
  'secrets:read',
  'secrets:reveal',
  'secrets:write',
  'secrets:set-value',
  'apikeys:read',
  'apikeys:write',
  'audit:read',
];
const STORE_PERMISSIONS: readonly Permission[] = ['secrets:read', 'secrets:write', 'secrets:set-value'];

function key(
  permissions: readonly Permission[],
  options: { admin?: boolean; tenantId?: string; keyName?: string } = {},
): Actor {
  return {
    kind: 'api_key',
    tenantId: options.tenantId ?? TENANT,
    keyName: options.keyName ?? 'k',
    grants: { admin: options.admin ?? false, permissions: new Set(permissions) },
  };
}
const SERVICE: Actor = { kind: 'service', serviceName: 'payments-svc' };

/** The refusal `fn` throws: a ForbiddenError with this reason and code, and a message for the caller. */
function refusal(fn: () => void, reason: ForbiddenError['reason'], code: string): ForbiddenError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ForbiddenError, `expected a ForbiddenError, got ${String(caught)}`);
  assert.equal(caught.kind, 'forbidden');
  assert.equal(caught.reason, reason);
  assert.equal(caught.code, code);
  assert.notEqual(caught.message, '', 'the facades send the message as the answer’s detail');
  return caught;
}

describe('requirePermission and holdsPermission', () => {
  it('the operator passes everything, in any tenant', () => {
    for (const permission of ALL) {
      assert.doesNotThrow(() => requirePermission(OPERATOR, 'any-tenant', permission));
      assert.equal(holdsPermission(OPERATOR, 'any-tenant', permission), true);
    }
  });

  it('a service is refused every tenant-level right (its store rights go through requireStorePermission)', () => {
    for (const permission of ALL) {
      refusal(() => requirePermission(SERVICE, TENANT, permission), 'not_service', 'service_not_allowed');
      assert.equal(holdsPermission(SERVICE, TENANT, permission), STORE_PERMISSIONS.includes(permission));
    }
  });

  it('a key passes exactly the permissions it holds, in its own tenant', () => {
    for (const held of ALL) {
      const actor = key([held]);
      for (const permission of ALL) {
        if (permission === held) {
          assert.doesNotThrow(() => requirePermission(actor, TENANT, permission));
          assert.equal(holdsPermission(actor, TENANT, permission), true);
        } else {
          const error = refusal(
            () => requirePermission(actor, TENANT, permission),
            'missing_permission',
            'missing_permission',
          );
          assert.ok(
            error.message.includes(`'${permission}'`),
            `names the missing permission: ${error.message}`,
          );
          assert.equal(holdsPermission(actor, TENANT, permission), false);
        }
      }
    }
  });

  it('a key without any permission holds nothing', () => {
    for (const permission of ALL) {
      refusal(
        () => requirePermission(key([]), TENANT, permission),
        'missing_permission',
        'missing_permission',
      );
      assert.equal(holdsPermission(key([]), TENANT, permission), false);
    }
  });

  it('an admin key passes by its admin flag, whatever its permission set', () => {
    const admin = key([], { admin: true });
    for (const permission of ALL) {
      assert.doesNotThrow(() => requirePermission(admin, TENANT, permission));
      assert.equal(holdsPermission(admin, TENANT, permission), true);
    }
  });

  it('a key of another tenant is refused as such before its permissions count, admin or not', () => {
    for (const actor of [key(ALL, { tenantId: 'other' }), key([], { admin: true, tenantId: 'other' })]) {
      for (const permission of ALL) {
        refusal(() => requirePermission(actor, TENANT, permission), 'other_tenant', 'other_tenant');
        assert.equal(holdsPermission(actor, TENANT, permission), false);
      }
    }
    // A tenant id that only differs in case is another tenant.
    refusal(() => requirePermission(key(ALL), 'ACME', 'secrets:read'), 'other_tenant', 'other_tenant');
  });
});

describe('requireStorePermission', () => {
  it('a service passes the store permissions and nothing else', () => {
    for (const permission of ALL) {
      if (STORE_PERMISSIONS.includes(permission)) {
        assert.doesNotThrow(() => requireStorePermission(SERVICE, TENANT, permission));
      } else {
        refusal(
          () => requireStorePermission(SERVICE, TENANT, permission),
          'not_service',
          'service_not_allowed',
        );
      }
    }
  });

  it('a key and the operator get requirePermission', () => {
    assert.doesNotThrow(() => requireStorePermission(key(['secrets:write']), TENANT, 'secrets:write'));
    assert.doesNotThrow(() => requireStorePermission(OPERATOR, TENANT, 'audit:read'));
    refusal(
      () => requireStorePermission(key(['secrets:write']), TENANT, 'secrets:read'),
      'missing_permission',
      'missing_permission',
    );
    refusal(
      () => requireStorePermission(key(ALL, { tenantId: 'other' }), TENANT, 'secrets:read'),
      'other_tenant',
      'other_tenant',
    );
  });
});

describe('requireAudience', () => {
  const cases: readonly [Actor, Audience, 'pass' | 'service_not_allowed' | 'credential_not_allowed'][] = [
    [SERVICE, 'platform', 'pass'],
    [SERVICE, 'tenant', 'service_not_allowed'],
    [key(ALL, { admin: true }), 'tenant', 'pass'],
    [key(ALL, { admin: true }), 'platform', 'credential_not_allowed'],
    [OPERATOR, 'tenant', 'pass'],
    [OPERATOR, 'platform', 'pass'],
  ];
  for (const [actor, audience, expected] of cases) {
    it(`${actor.kind} on a ${audience} route: ${expected}`, () => {
      if (expected === 'pass') assert.doesNotThrow(() => requireAudience(actor, audience));
      else refusal(() => requireAudience(actor, audience), 'not_service', expected);
    });
  }
});

describe('scope and label of an actor', () => {
  it('only a service has a managed scope: its own name', () => {
    assert.equal(managedScopeOf(SERVICE), 'payments-svc');
    assert.equal(managedScopeOf(key(ALL)), null);
    assert.equal(managedScopeOf(OPERATOR), null);
  });

  it('labels say the kind and the name (the audit trail records them)', () => {
    assert.equal(actorLabel(OPERATOR), 'operator');
    assert.equal(actorLabel(SERVICE), 'service:payments-svc');
    assert.equal(actorLabel(key(ALL, { keyName: 'ci-deploy' })), 'key:ci-deploy');
    assert.ok(Object.isFrozen(OPERATOR));
  });
});

describe('permission names (docs/permissions.md)', () => {
  /** The aliases table of docs/permissions.md, and every canonical name as itself. */
  const EXPANSIONS: Readonly<Record<string, readonly Permission[]>> = {
    'Secret.Read': ['secrets:read', 'secrets:reveal'],
    'Secret.Write': ['secrets:write', 'secrets:set-value'],
    'Secrets Store Read': ['secrets:read'],
    'Secrets Store Write': ['secrets:read', 'secrets:write', 'secrets:set-value'],
    'tenant.apiKey:read': ['apikeys:read'],
    'tenant.apiKey:write': ['apikeys:write'],
    ...Object.fromEntries(ALL.map((p) => [p, [p]])),
    '*': ALL,
  };

  it('the canonical permissions are the seven documented ones', () => {
    assert.deepEqual([...CANONICAL_PERMISSIONS], ALL);
    assert.equal(ADMIN_PERMISSION, '*');
  });

  it('the known names are the aliases, the canonical names and *, in that order', () => {
    assert.deepEqual(KNOWN_PERMISSION_NAMES, Object.keys(EXPANSIONS));
    for (const name of Object.keys(EXPANSIONS)) assert.equal(isKnownPermission(name), true, name);
    for (const name of ['', 'secrets:*', 'Secrets:Read', 'secret.read', 'admin', ' *', 'secrets:read ']) {
      assert.equal(isKnownPermission(name), false, JSON.stringify(name));
    }
  });

  it('each name expands to its documented canonical permissions; only * is admin', () => {
    for (const [name, expected] of Object.entries(EXPANSIONS)) {
      const grants = grantsOf([name]);
      assert.deepEqual([...grants.permissions].sort(), [...expected].sort(), name);
      assert.equal(grants.admin, name === '*', name);
    }
  });

  it('grants add up, and an unknown stored name grants nothing', () => {
    const grants = grantsOf([
      'Secrets Store Read',
      'tenant.apiKey:write',
      'audit:read',
      'no-such-permission',
    ]);
    assert.deepEqual([...grants.permissions].sort(), ['apikeys:write', 'audit:read', 'secrets:read']);
    assert.equal(grants.admin, false);
    assert.deepEqual(grantsOf(['no-such-permission']), { admin: false, permissions: new Set() });
    assert.deepEqual(grantsOf([]), { admin: false, permissions: new Set() });
    assert.equal(grantsOf(['secrets:read', '*']).admin, true);
    assert.equal(grantsOf(['*', 'secrets:read']).admin, true);
  });

  it('normalising keeps known names, de-duplicated, in the order given', () => {
    assert.deepEqual(normalisePermissionNames(['Secret.Read', '*', 'Secret.Read', 'audit:read', '*']), [
      'Secret.Read',
      '*',
      'audit:read',
    ]);
    assert.deepEqual(normalisePermissionNames([]), []);
  });

  it('an unknown name is refused, named (shortened) in the answer with the known names', () => {
    const long = `x${'y'.repeat(63)}TAIL`;
    let caught: unknown;
    try {
      normalisePermissionNames(['secrets:read', 'nope', long, 'Secret.Write']);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof InvalidError, String(caught));
    assert.equal(caught.code, 'unknown_permission');
    const known = KNOWN_PERMISSION_NAMES.join(', ');
    const shortened = JSON.stringify(long.slice(0, 64));
    assert.ok(!caught.message.includes('TAIL'), caught.message);
    assert.ok(caught.message.includes(`"nope", ${shortened}`), caught.message);
    assert.ok(caught.message.includes(known), caught.message);
    assert.ok(!caught.message.includes('"secrets:read"'), 'a known name is not reported');
    assert.deepEqual(Object.keys(caught.fields), ['permissions']);
    const fieldMessages = caught.fields['permissions'] ?? [];
    assert.equal(fieldMessages.length, 2);
    assert.ok(fieldMessages[0]?.includes('"nope"') && fieldMessages[0].includes(known), fieldMessages[0]);
    assert.ok(fieldMessages[1]?.includes(shortened) && !fieldMessages[1].includes('TAIL'), fieldMessages[1]);

    assert.throws(
      () => normalisePermissionNames(['nope'], 'scopes'),
      (e: unknown) => e instanceof InvalidError && Object.keys(e.fields).join() === 'scopes',
    );
  });
});

describe('coversGrants: a key never hands out more than it holds', () => {
  const grants = (admin: boolean, permissions: readonly Permission[]): Grants => ({
    admin,
    permissions: new Set(permissions),
  });

  it('an admin holder covers anything, admin included', () => {
    assert.equal(coversGrants(grants(true, []), grants(true, ALL)), true);
    assert.equal(coversGrants(grants(true, []), grants(false, ALL)), true);
  });

  it('a non-admin holder never covers admin, even holding every permission', () => {
    assert.equal(coversGrants(grants(false, ALL), grants(true, [])), false);
    assert.equal(coversGrants(grants(false, ALL), grantsOf(['*'])), false);
  });

  it('a non-admin holder covers a subset of its permissions, and nothing more', () => {
    const holder = grants(false, ['secrets:read', 'secrets:reveal']);
    assert.equal(coversGrants(holder, grants(false, [])), true);
    assert.equal(coversGrants(holder, grants(false, ['secrets:reveal'])), true);
    assert.equal(coversGrants(holder, grants(false, ['secrets:read', 'secrets:reveal'])), true);
    assert.equal(coversGrants(holder, grants(false, ['secrets:read', 'secrets:write'])), false);
    assert.equal(coversGrants(holder, grants(false, ['secrets:write', 'secrets:read'])), false);
    assert.equal(coversGrants(holder, grants(false, ['audit:read'])), false);
  });
});
