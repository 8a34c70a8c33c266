import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { generateToken } from '../../src/crypto/tokens.js';
import { type HttpResult, request } from '../support/http-client.js';
import { dataFingerprint } from '../support/raw-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  CANARY,
  type CaseRequest,
  CATCH_ALLS,
  type Facade,
  isStoreScoped,
  MATRIX,
  type MatrixCase,
  OTHER_SERVICE,
  PERMISSIONS,
  PUBLIC_ROUTES,
  SELF_ROUTES,
  SERVICE,
  TENANT,
} from './auth-matrix-table.js';

/**
 * Every route of every facade × every kind of caller, from the routes the built app really has
 * (a new route without a row in auth-matrix-table.ts fails the first test). For each case:
 *   no credential, malformed, unknown, disabled, deleted → 401 in the facade's shape;
 *   another tenant's key, a service credential (outside system/), a tenant key on system/ → the
 *   facade's refusal; each single permission → refused unless it alone is what the case needs;
 *   exactly the needed permissions (system/: the managing service) → the contract's success status.
 * A refused request returns no value and changes nothing: every data table is read back after it.
 * Runs on the engine of COFFER_TEST_ENGINE (npm test runs it on both).
 */

type CredKind =
  | 'none'
  | 'malformed'
  | 'unknown'
  | 'disabled'
  | 'deleted'
  | 'other tenant'
  | 'service'
  | 'other service'
  | `only ${string}`
  | 'exactly needed';

interface Expectation {
  readonly status: number;
  /** The facade's error code, where its contract names one for this refusal. */
  readonly code?: string | number;
}

/** Which answer each facade's contract gives a refusal (docs/native-api.md, cloudflare.md, envs.md, permissions.md). */
function refusal(facade: Facade, kind: CredKind): Expectation {
  const v1OrEnvs = facade === 'v1' || facade === 'envs';
  const cfLike = facade === 'cloudflare' || facade === 'cloudflare-system';
  switch (kind) {
    case 'none':
      if (facade === 'vault') return { status: 403 };
      return v1OrEnvs
        ? { status: 401, code: 'missing_credentials' }
        : cfLike
          ? { status: 401, code: 1100 }
          : { status: 401 };
    case 'malformed':
    case 'unknown':
    case 'disabled':
    case 'deleted':
      // Vault has no 401: every refused token is 403 `permission denied` (docs/vault.md).
      if (facade === 'vault') return { status: 403 };
      return v1OrEnvs
        ? { status: 401, code: 'invalid_credentials' }
        : cfLike
          ? { status: 401, code: 1101 }
          : { status: 401 };
    case 'other tenant':
      if (facade === 'v1') return { status: 404, code: 'tenant_not_found' };
      if (facade === 'cloudflare') return { status: 404, code: 1201 };
      if (facade === 'cloudflare-system') return { status: 403, code: 1103 };
      if (facade === 'envs') return { status: 403, code: 'other_tenant' };
      return { status: 403 }; // Neostore; Vault: another tenant's namespace
    case 'service':
    case 'other service':
      if (facade === 'cloudflare-system') return { status: 404, code: 1202 }; // a store it does not manage
      if (facade === 'cloudflare') return { status: 403, code: 1103 };
      if (v1OrEnvs) return { status: 403, code: 'service_not_allowed' };
      // Neostore: docs/permissions.md and issue 13 — a service acts only through system/.
      return { status: 403 };
    default:
      // A tenant key lacking a permission; on system/ any tenant key is the wrong kind of credential.
      if (facade === 'cloudflare-system') return { status: 403, code: 1103 };
      if (cfLike) return { status: 403, code: 1102 };
      if (v1OrEnvs) return { status: 403, code: 'missing_permission' };
      return { status: 403 };
  }
}

/** The facade's error shape, and that it holds no value. */
function assertRefusalShape(facade: Facade, res: HttpResult, expected: Expectation, where: string): void {
  assert.equal(res.status, expected.status, `${where}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(!res.text.includes(CANARY), `${where}: a refusal carries a secret value`);
  const body = res.json as Record<string, unknown> | undefined;
  assert.ok(body !== undefined && typeof body === 'object', `${where}: a JSON body`);
  const type = res.headers.get('content-type') ?? '';
  switch (facade) {
    case 'neostore':
    case 'v1':
      assert.match(type, /^application\/problem\+json/, where);
      assert.equal(body.status, res.status, where);
      assert.equal(typeof body.title, 'string', where);
      if (expected.code !== undefined) assert.equal(body.code, expected.code, where);
      if (facade === 'v1' && res.status === 401) assert.ok(res.headers.get('www-authenticate'), where);
      break;
    case 'cloudflare':
    case 'cloudflare-system': {
      assert.equal(body.success, false, where);
      assert.equal(body.result, null, where);
      assert.deepEqual(body.messages, [], where);
      const errors = body.errors as { code: number; message: string }[];
      assert.ok(Array.isArray(errors) && errors.length > 0, where);
      for (const e of errors) assert.equal(typeof e.message, 'string', where);
      if (expected.code !== undefined) assert.equal(errors[0]?.code, expected.code, where);
      break;
    }
    case 'vault':
      assert.match(type, /^application\/json/, where);
      // Every refusal says only Vault's words: nothing tells a bad token from a missing permission.
      assert.deepEqual(body, { errors: ['permission denied'] }, where);
      break;
    case 'envs':
      assert.equal(typeof body.error, 'string', where);
      assert.equal(typeof body.code, 'string', where);
      if (expected.code !== undefined) assert.equal(body.code, expected.code, where);
  }
}

/** `GET /a/:b (GET, HEAD)` lines of printRoutes → `METHOD /full/:path` (HEAD dropped: it is GET's). */
function routesOf(server: TestServer): Set<string> {
  const tree = server.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes = new Set<string>();
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*) \(([A-Z, ]+)\)$/.exec(line);
    if (m === null) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    const path = `${depth === 0 ? '' : (stack[depth - 1] ?? '')}${m[2] ?? ''}`;
    stack[depth] = path;
    for (const method of (m[3] ?? '').split(', ')) {
      // A wildcard under a static segment that is also a route of its own prints as `…/name` then
      // `*`: joined back as the router knows it, `…/name/*`.
      if (method !== 'HEAD') routes.add(`${method} ${path.replace(/([^/])\*$/, '$1/*')}`);
    }
  }
  return routes;
}

describe('auth matrix: every route of every facade × every kind of caller', () => {
  let server: TestServer;
  const tokens = new Map<string, string>();
  /** Keys holding exactly a case's needs, made on first use. */
  const exact = new Map<string, string>();

  before(async () => {
    server = await startTestServer();
    const { core } = server.runtime;
    tokens.set('malformed', 'not-a-token');
    tokens.set('unknown', generateToken());
    tokens.set('disabled', await server.createKey(TENANT, 'disabled', ['*']));
    await core.apiKeys.update(OPERATOR, TENANT, 'disabled', { enabled: false });
    tokens.set('deleted', await server.createKey(TENANT, 'deleted', ['*']));
    await core.apiKeys.delete(OPERATOR, TENANT, 'deleted');
    tokens.set('other tenant', await server.createKey('other', 'admin', ['*']));
    tokens.set('service', await server.createService(SERVICE));
    tokens.set('other service', await server.createService(OTHER_SERVICE));
    for (const p of PERMISSIONS)
      tokens.set(`only ${p}`, await server.createKey(TENANT, `only-${p.replace(':', '-')}`, [p]));
  });
  after(() => server.close());

  it('has a row for every route the app serves, and no row for a route it does not', () => {
    const served = routesOf(server);
    assert.ok(served.size > 40, `routes found: ${[...served].join(', ')}`);
    const covered = new Set(MATRIX.map((c) => `${c.method} ${c.route}`));
    const missing = [...served].filter(
      (r) =>
        !covered.has(r) &&
        !PUBLIC_ROUTES.includes(r) &&
        !SELF_ROUTES.includes(r) &&
        !CATCH_ALLS.some((all) => r.endsWith(` ${all}`)) &&
        // The console's top-level static files (favicon…), present once the UI is built.
        !/^GET \/ui\/[^/:]+\.[a-z0-9]+$/.test(r),
    );
    assert.deepEqual(missing, [], 'routes without a row in test/security/auth-matrix-table.ts');
    // printRoutes leaves out routes that end in a wildcard under a parameter (the Vault facade's
    // `/:mount/data/*`): those rows are checked against the router itself.
    const isServed = (r: string) => {
      const [method = '', url = ''] = r.split(' ');
      return served.has(r) || (url.endsWith('*') && server.app.hasRoute({ method, url }));
    };
    const stale = [...covered].filter((r) => !isServed(r));
    assert.deepEqual(stale, [], 'rows for routes the app does not serve');
    for (const facade of ['neostore', 'v1', 'cloudflare', 'cloudflare-system', 'envs', 'vault'] as const) {
      assert.ok(
        MATRIX.some((c) => c.facade === facade),
        facade,
      );
    }
  });

  const send = (c: MatrixCase, kind: CredKind, req: CaseRequest) => {
    const token = kind === 'none' ? undefined : kind === 'exactly needed' ? exactToken(c) : tokens.get(kind);
    if (c.facade === 'vault') {
      // Vault clients send X-Vault-Token, and name the tenant as the namespace.
      const headers: Record<string, string> = { 'x-vault-namespace': TENANT, ...req.headers };
      if (token !== undefined) headers['x-vault-token'] = token;
      return request(server.url, c.method, req.path, {
        headers,
        ...(req.body === undefined ? {} : { body: req.body }),
      });
    }
    return request(server.url, c.method, req.path, {
      ...(token === undefined ? {} : { token, auth: c.facade === 'neostore' ? 'x-api-key' : 'bearer' }),
      ...(req.body === undefined ? {} : { body: req.body }),
      ...(req.headers === undefined ? {} : { headers: req.headers }),
    });
  };
  function exactToken(c: MatrixCase): string | undefined {
    if (c.facade === 'cloudflare-system') return tokens.get('service');
    return exact.get([...c.needs].sort().join(','));
  }
  async function ensureExact(c: MatrixCase): Promise<void> {
    const id = [...c.needs].sort().join(',');
    if (c.facade === 'cloudflare-system' || exact.has(id)) return;
    exact.set(id, await server.createKey(TENANT, `exact-${exact.size}`, [...c.needs]));
  }

  MATRIX.forEach((c, n) => {
    // One subtest per caller, named after the route, case and caller: every caller is tried even
    // after one fails (one hole does not hide another), and each failure is reported on its own.
    it(`${c.method} ${c.route} (${c.label})`, async (t) => {
      await ensureExact(c);
      const ctx = { server, n };
      const kinds: CredKind[] = ['none', 'malformed', 'unknown', 'disabled', 'deleted', 'other tenant'];
      if (c.facade !== 'cloudflare-system') kinds.push('service');
      else if (isStoreScoped(c)) kinds.push('other service');
      for (const p of PERMISSIONS) kinds.push(`only ${p}`);
      kinds.push('exactly needed');

      let req = await c.prepare(ctx);
      let before = await dataFingerprint(server);
      let accepted = 0;
      for (const kind of kinds) {
        const allowed =
          kind === 'exactly needed' ||
          (c.facade !== 'cloudflare-system' &&
            kind.startsWith('only ') &&
            c.needs.length === 1 &&
            c.needs[0] === kind.slice('only '.length));
        let failed = false;
        await t.test(`${c.method} ${c.route} (${c.label}) as ${kind}`, async () => {
          const where = `${c.method} ${req.path} as ${kind}`;
          const res = await send(c, kind, req);
          try {
            if (allowed) {
              // The positive control: the contract's success, with the real data behind it.
              assert.equal(res.status, c.success, `${where}: ${res.text.slice(0, 300)}`);
              accepted++;
            } else {
              assertRefusalShape(c.facade, res, refusal(c.facade, kind), where);
              assert.equal(await dataFingerprint(server), before, `${where}: a refused request changed data`);
            }
          } catch (error) {
            failed = true;
            throw error;
          }
        });
        if (allowed || failed) {
          req = await c.prepare(ctx); // put the targets back for the next caller
          before = await dataFingerprint(server);
        }
      }
      assert.ok(accepted >= 1, 'at least the exact caller is accepted');
    });
  });

  it('the positive controls read real data: a value read with exactly secrets:reveal is the value', async () => {
    const key = await server.createKey(TENANT, 'reveal-only', ['secrets:reveal']);
    await server.runtime.core.secrets.putValue(OPERATOR, {
      tenantId: TENANT,
      name: 'control',
      value: CANARY,
    });
    const res = await request(server.url, 'GET', `/api/${TENANT}/secrets/control`, { token: key });
    assert.equal(res.status, 200);
    assert.equal(res.text, CANARY);
  });
});
