import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateToken } from '../../src/crypto/tokens.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Every Neostore route against every kind of bad credential. None may return data: each answer is a
 * ProblemDetails with the expected status, and no secret value, name or token appears in it.
 */
interface Route {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  /** What an under-scoped key lacks for this route. */
  readonly needs: string;
}

const VALUE = 'matrix-secret-value-7f3a';
const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/api/default/secrets', needs: 'secrets:read' },
  { method: 'GET', path: '/api/default/secrets/matrix', needs: 'secrets:reveal' },
  {
    method: 'PUT',
    path: '/api/default/secrets/matrix',
    body: { value: 'overwrite' },
    needs: 'secrets:set-value',
  },
  { method: 'DELETE', path: '/api/default/secrets/matrix', needs: 'secrets:write' },
  { method: 'GET', path: '/api/default/admin/apiKeys', needs: 'apikeys:read' },
  {
    method: 'POST',
    path: '/api/default/admin/apiKeys',
    body: { name: 'new', permissions: ['secrets:read'] },
    needs: 'apikeys:write',
  },
  { method: 'GET', path: '/api/default/admin/apiKeys/admin', needs: 'apikeys:read' },
  {
    method: 'PUT',
    path: '/api/default/admin/apiKeys/reader',
    body: { enabled: false },
    needs: 'apikeys:write',
  },
  { method: 'DELETE', path: '/api/default/admin/apiKeys/reader', needs: 'apikeys:write' },
];

/** A key holding every permission except the one a route needs (reveal also implies read here). */
const ALL = [
  'secrets:read',
  'secrets:reveal',
  'secrets:write',
  'secrets:set-value',
  'apikeys:read',
  'apikeys:write',
];

describe('Neostore auth matrix', () => {
  let server: TestServer;
  const creds: Record<string, string> = {};

  before(async () => {
    server = await startTestServer();
    const admin = server.adminToken;
    await request(server.url, 'PUT', '/api/default/secrets/matrix', { token: admin, body: { value: VALUE } });
    await server.createKey('default', 'reader', ['secrets:read']);
    creds.unknown = generateToken();
    creds.garbage = 'not-a-token';
    creds.disabled = await server.createKey('default', 'disabled', ['*']);
    await request(server.url, 'PUT', '/api/default/admin/apiKeys/disabled', {
      token: admin,
      body: { enabled: false },
    });
    creds.deleted = await server.createKey('default', 'deleted', ['*']);
    await request(server.url, 'DELETE', '/api/default/admin/apiKeys/deleted', { token: admin });
    creds.otherTenant = await server.createKey('other-tenant', 'admin', ['*']);
  });
  after(() => server.close());

  function assertNoData(
    res: { status: number; headers: Headers; text: string },
    status: number,
    label: string,
  ): void {
    assert.equal(res.status, status, `${label}: ${res.text}`);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', label);
    assert.ok(!res.text.includes(VALUE), `${label} leaks the value`);
    assert.ok(!res.text.includes('"matrix"'), `${label} leaks a name`);
    assert.ok(!/coffer_[0-9A-Za-z]{49}/.test(res.text), `${label} leaks a token`);
  }

  for (const route of ROUTES) {
    const label = `${route.method} ${route.path}`;
    describe(label, () => {
      it('no credentials → 401', async () => {
        assertNoData(await request(server.url, route.method, route.path, { body: route.body }), 401, label);
      });
      it('an empty or malformed Authorization header → 401', async () => {
        for (const authorization of ['', 'Bearer', 'Basic dXNlcjpwYXNz', `Token ${creds.unknown}`]) {
          const res = await request(server.url, route.method, route.path, {
            body: route.body,
            headers: { authorization },
          });
          assertNoData(res, 401, `${label} (${authorization})`);
        }
      });
      for (const kind of ['garbage', 'unknown', 'disabled', 'deleted'] as const) {
        it(`${kind} token → 401, through X-API-KEY and bearer`, async () => {
          for (const auth of ['x-api-key', 'bearer'] as const) {
            const res = await request(server.url, route.method, route.path, {
              token: creds[kind],
              auth,
              body: route.body,
            });
            assertNoData(res, 401, `${label} ${kind} ${auth}`);
          }
        });
      }
      it('a token of another tenant → 403', async () => {
        assertNoData(
          await request(server.url, route.method, route.path, { token: creds.otherTenant, body: route.body }),
          403,
          label,
        );
      });
      it(`a key without ${route.needs} → 403`, async () => {
        const name = `under-${route.method}-${route.path.replace(/[^a-z]/gi, '')}`.slice(0, 64);
        const token = await server.createKey(
          'default',
          name,
          ALL.filter((p) => p !== route.needs),
        );
        assertNoData(
          await request(server.url, route.method, route.path, { token, body: route.body }),
          403,
          label,
        );
      });
    });
  }

  it('after all refusals, the secret and the keys are untouched', async () => {
    const admin = server.adminToken;
    assert.equal(
      (await request(server.url, 'GET', '/api/default/secrets/matrix', { token: admin })).text,
      VALUE,
    );
    assert.equal(
      (await request(server.url, 'GET', '/api/default/admin/apiKeys/reader', { token: admin })).status,
      200,
    );
    assert.equal(
      (await request(server.url, 'GET', '/api/default/admin/apiKeys/new', { token: admin })).status,
      404,
    );
  });

  it('positive control: a key holding exactly what each route needs is served (after the refusals)', async () => {
    // Key routes also need to cover the permissions they grant or touch (no escalation): the body's
    // and the target key `reader`'s are secrets:read.
    const covers = (r: Route) =>
      r.path.includes('/admin/apiKeys') && r.method !== 'GET' ? ['secrets:read'] : [];
    const expected: Record<string, number> = { GET: 200, PUT: 204, DELETE: 204, POST: 201 };
    for (const [i, route] of ROUTES.entries()) {
      const token = await server.createKey('default', `exact-${i}`, [route.needs, ...covers(route)]);
      const res = await request(server.url, route.method, route.path, { token, body: route.body });
      const status = route.method === 'PUT' && route.path.includes('/admin/') ? 200 : expected[route.method];
      assert.equal(res.status, status, `${route.method} ${route.path}: ${res.text}`);
      if (route.method === 'GET' && route.path === '/api/default/secrets/matrix')
        assert.equal(res.text, VALUE);
    }
  });
});
