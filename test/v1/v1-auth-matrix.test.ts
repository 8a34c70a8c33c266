import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface Route {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  /** What a key needs, beyond which it is 403. */
  readonly needs: string[];
  readonly ok: number;
}

/** Every /v1 route, on tenant `acme`; each call is safe to repeat (writes go to fresh names). */
function routes(): Route[] {
  const s = '/v1/tenants/acme/stores';
  return [
    { method: 'GET', path: s, needs: ['secrets:read'], ok: 200 },
    {
      method: 'POST',
      path: s,
      body: { name: `new-${Math.random().toString(36).slice(2)}` },
      needs: ['secrets:write'],
      ok: 201,
    },
    { method: 'GET', path: `${s}/app`, needs: ['secrets:read'], ok: 200 },
    {
      method: 'DELETE',
      path: `${s}/empty-${Math.random().toString(36).slice(2)}`,
      needs: ['secrets:write'],
      ok: 404,
    },
    { method: 'GET', path: `${s}/app/secrets`, needs: ['secrets:read'], ok: 200 },
    { method: 'GET', path: `${s}/app/secrets/KEY`, needs: ['secrets:read'], ok: 200 },
    {
      method: 'GET',
      path: `${s}/app/secrets/KEY?reveal=true`,
      needs: ['secrets:read', 'secrets:reveal'],
      ok: 200,
    },
    {
      method: 'PUT',
      path: `${s}/app/secrets/KEY`,
      body: { value: 'rotated' },
      needs: ['secrets:read', 'secrets:set-value'],
      ok: 200,
    },
    {
      method: 'PUT',
      path: `${s}/app/secrets/NEW_${Math.random().toString(36).slice(2)}`,
      body: { value: 'v' },
      needs: ['secrets:read', 'secrets:set-value', 'secrets:write'],
      ok: 201,
    },
    {
      method: 'PUT',
      path: `${s}/app/secrets/KEY`,
      body: { description: 'd' },
      needs: ['secrets:read', 'secrets:write'],
      ok: 200,
    },
    { method: 'DELETE', path: `${s}/app/secrets/GHOST`, needs: ['secrets:write'], ok: 404 },
    { method: 'POST', path: `${s}/app/reveal`, body: { names: ['KEY'] }, needs: ['secrets:reveal'], ok: 200 },
    { method: 'POST', path: `${s}/app/reveal`, body: {}, needs: ['secrets:reveal', 'secrets:read'], ok: 200 },
  ];
}

const VALUE = 'auth-matrix-value-5b1e0c';

describe('/v1 authentication and authorisation matrix', () => {
  let server: TestServer;
  const tokens: Record<string, string> = {};

  before(async () => {
    server = await startTestServer();
    tokens.admin = await server.createKey('acme', 'admin', ['*']);
    tokens.disabled = await server.createKey('acme', 'disabled', ['*']);
    await server.runtime.core.apiKeys.update(OPERATOR, 'acme', 'disabled', { enabled: false });
    tokens.other = await server.createKey('globex', 'admin', ['*']);
    tokens.none = await server.createKey('acme', 'audit-only', ['audit:read']);
    tokens.service = await server.createService('platform');
    await request(server.url, 'POST', '/v1/tenants/acme/stores', {
      token: tokens.admin,
      body: { name: 'app' },
    });
    await request(server.url, 'PUT', '/v1/tenants/acme/stores/app/secrets/KEY', {
      token: tokens.admin,
      body: { value: VALUE },
    });
    await request(server.url, 'PUT', '/v1/tenants/acme/stores/app/secrets/STABLE', {
      token: tokens.admin,
      body: { value: VALUE },
    });
  });
  after(() => server.close());

  for (const route of routes()) {
    const label = `${route.method} ${route.path.replace(/[a-z0-9]{8,}$/, '…')}`;
    const call = (headers: Record<string, string>) =>
      request(server.url, route.method, route.path, { body: route.body, headers });
    const problem = (
      res: { status: number; headers: Headers; json: unknown },
      status: number,
      code?: string,
    ) => {
      assert.equal(res.status, status);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      if (code !== undefined) assert.equal((res.json as { code: string }).code, code);
    };

    it(`${label}: no credentials, a malformed token, an unknown token, a disabled key → 401`, async () => {
      const none = await call({});
      problem(none, 401, 'missing_credentials');
      assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
      problem(await call({ authorization: 'Bearer nope' }), 401, 'invalid_credentials');
      problem(await call({ 'x-api-key': `${tokens.admin?.slice(0, -1)}x` }), 401, 'invalid_credentials');
      problem(await call({ authorization: `Bearer ${tokens.disabled}` }), 401, 'invalid_credentials');
    });

    it(`${label}: another tenant's key → 404 tenant_not_found; a service credential → 403`, async () => {
      const res = await call({ authorization: `Bearer ${tokens.other}` });
      problem(res, 404, 'tenant_not_found');
      assert.ok(!JSON.stringify(res.json).includes(VALUE));
      problem(await call({ authorization: `Bearer ${tokens.service}` }), 403, 'service_not_allowed');
    });

    it(`${label}: a key missing any of ${route.needs.join(', ')} → 403; with exactly those → ${route.ok}`, async () => {
      problem(await call({ 'x-api-key': tokens.none ?? '' }), 403, 'missing_permission');
      for (const missing of route.needs) {
        const token = await server.createKey(
          'acme',
          `k${Math.random().toString(36).slice(2)}`,
          route.needs.filter((p) => p !== missing).concat('audit:read'),
        );
        problem(await call({ 'x-api-key': token }), 403, 'missing_permission');
      }
      const exact = await server.createKey('acme', `k${Math.random().toString(36).slice(2)}`, route.needs);
      const res = await call({ authorization: `Bearer ${exact}` });
      assert.equal(res.status, route.ok, res.text);
    });
  }

  it('the admin key works with X-API-KEY and with Bearer', async () => {
    const both: Record<string, string>[] = [
      { 'x-api-key': tokens.admin ?? '' },
      { authorization: `Bearer ${tokens.admin}` },
    ];
    for (const headers of both) {
      const res = await request(server.url, 'GET', '/v1/tenants/acme/stores/app/secrets/STABLE?reveal=true', {
        headers,
      });
      assert.equal((res.json as { value: string }).value, VALUE);
    }
  });
});
