import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/test-server.js';

/** One raw request, redirects not followed. */
async function call(server: TestServer, method: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, { method, headers, redirect: 'manual' });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('the server root, unknown routes and wrong methods', () => {
  let server: TestServer;
  let auth: Record<string, string>;

  before(async () => {
    server = await startTestServer();
    auth = { authorization: `Bearer ${server.adminToken}` };
  });
  after(() => server.close());

  it('GET / leads to the console', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await call(server, method, '/');
      assert.equal(res.status, 302, method);
      assert.equal(res.headers.get('location'), '/ui/', method);
    }
    const ui = await call(server, 'GET', '/ui/');
    assert.ok(ui.status === 200 || ui.status === 503, String(ui.status));
  });

  it('answers an unknown path outside the facades with a ProblemDetails 404', async () => {
    for (const path of ['/nothing', '/favicon.ico', '/ui/nothing/at/all', '/acme/web']) {
      const res = await call(server, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, path);
      assert.equal(res.json?.status, 404);
      assert.equal(res.json?.title, 'Not Found');
      assert.equal(res.json?.code, 'route_not_found');
      assert.equal(res.headers.get('allow'), null);
    }
  });

  it('answers an undecodable URL in the shape of what owns the path: ProblemDetails outside the facades and under /v1', async () => {
    for (const path of ['/%zz', '/ui/%zz', '/v1/tenants/%zz/stores']) {
      const res = await call(server, 'GET', path, auth);
      assert.equal(res.status, 400, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, path);
      assert.equal(res.json?.status, 400, path);
    }
    const envs = await call(server, 'GET', '/default/web/envs/%zz/secrets', auth);
    assert.equal(envs.status, 400);
    assert.deepEqual(Object.keys(envs.json ?? {}).sort(), ['code', 'error']);
    const cf = await call(server, 'GET', '/client/v4/accounts/%zz/secrets_store/stores', auth);
    assert.equal(cf.status, 400);
    assert.equal(cf.json?.success, false);
  });

  it('answers a wrong method on a path outside the facades with 405, Allow and a ProblemDetails', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/openapi.json', 'GET, HEAD'],
      ['POST', '/', 'GET, HEAD'],
      ['PUT', '/ui/', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(server, method, path);
      assert.equal(res.status, 405, `${method} ${path}: ${res.text}`);
      assert.equal(res.headers.get('allow'), allow, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, path);
      assert.equal(res.json?.title, 'Method Not Allowed');
      assert.equal(res.json?.code, 'method_not_allowed');
      assert.match(
        String(res.json?.detail),
        new RegExp(`^${method} is not allowed here; this path takes ${allow}\\.$`),
      );
    }
  });

  it('Neostore and /v1 answer a wrong method with 405 and Allow in ProblemDetails', async () => {
    const neo = await call(server, 'PATCH', '/api/default/secrets/x', auth);
    assert.equal(neo.status, 405, neo.text);
    assert.equal(neo.headers.get('allow'), 'DELETE, GET, HEAD, PUT');
    assert.match(neo.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(neo.json?.code, 'method_not_allowed');
    const v1 = await call(server, 'DELETE', '/v1/tenants/default/stores', auth);
    assert.equal(v1.status, 405, v1.text);
    assert.equal(v1.headers.get('allow'), 'GET, HEAD, POST');
    assert.match(v1.headers.get('content-type') ?? '', /^application\/problem\+json/);
    // An unknown path there stays a 404.
    const unknown = await call(server, 'GET', '/v1/nothing', auth);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json?.code, 'route_not_found');
  });

  it('Cloudflare answers a wrong method with 405, Allow and its envelope (code 7001)', async () => {
    const res = await call(server, 'PUT', '/client/v4/accounts/default/secrets_store/stores', auth);
    assert.equal(res.status, 405, res.text);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');
    assert.deepEqual(res.json, {
      success: false,
      errors: [{ code: 7001, message: 'Method not allowed for this route.' }],
      messages: [],
      result: null,
    });
    const unknown = await call(server, 'GET', '/client/v4/accounts/default/nothing', auth);
    assert.equal(unknown.status, 404);
    assert.deepEqual((unknown.json?.errors as unknown[])[0], {
      code: 7003,
      message: 'No route for that URI.',
    });
  });

  it('envs answers a wrong method with 405, Allow and {error, code}', async () => {
    const res = await call(server, 'PATCH', '/default/web/envs/dev/secrets', auth);
    assert.equal(res.status, 405, res.text);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');
    assert.deepEqual(res.json, {
      error: 'PATCH is not allowed here; this path takes GET, HEAD, POST.',
      code: 'method_not_allowed',
    });
    const value = await call(server, 'GET', '/default/web/envs/dev/secrets/X/value', auth);
    assert.equal(value.status, 405);
    assert.equal(value.headers.get('allow'), 'PUT');
    const unknown = await call(server, 'GET', '/default/web/envs/dev/nothing', auth);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json?.code, 'route_not_found');
  });
});
