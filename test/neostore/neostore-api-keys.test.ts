import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const PROBLEM = 'application/problem+json; charset=utf-8';

function assertStatus(res: { status: number; headers: Headers; text: string }, status: number): void {
  assert.equal(res.status, status, res.text);
  if (status >= 400) assert.equal(res.headers.get('content-type'), PROBLEM);
}

describe('Neostore API keys API', () => {
  let server: TestServer;
  let admin: string;
  const keys = (method: string, path: string, token: string, body?: unknown) =>
    request(server.url, method, `/api/default/admin/apiKeys${path}`, { token, body });

  before(async () => {
    server = await startTestServer();
    admin = server.adminToken;
  });
  after(() => server.close());

  it('lists the bootstrap admin key without any hash or token', async () => {
    const res = await keys('GET', '', admin);
    assertStatus(res, 200);
    assert.deepEqual(res.json, [{ name: 'admin', enabled: true, permissions: ['*'] }]);
    assert.ok(!res.text.includes(admin));
  });

  it('creates a key: 201 with the one-time token, which then works; later reads never show it', async () => {
    const res = await keys('POST', '', admin, { name: 'ci.reader_1', permissions: ['Secret.Read'] });
    assertStatus(res, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = res.json as { name: string; enabled: boolean; permissions: string[]; token: string };
    assert.deepEqual(
      { ...body, token: undefined },
      {
        name: 'ci.reader_1',
        enabled: true,
        permissions: ['Secret.Read'],
        token: undefined,
      },
    );
    assert.match(body.token, /^coffer_[0-9A-Za-z]{49}$/);
    assertStatus(await request(server.url, 'GET', '/api/default/secrets', { token: body.token }), 200);
    const get = await keys('GET', '/ci.reader_1', admin);
    assertStatus(get, 200);
    assert.deepEqual(get.json, { name: 'ci.reader_1', enabled: true, permissions: ['Secret.Read'] });
    assert.ok(!(await keys('GET', '', admin)).text.includes(body.token));
  });

  it('accepts canonical names and aliases, de-duplicated; enabled=false creates a disabled key', async () => {
    const res = await keys('POST', '', admin, {
      name: 'mixed',
      enabled: false,
      permissions: ['secrets:read', 'tenant.apiKey:read', 'secrets:read'],
    });
    assertStatus(res, 201);
    const token = (res.json as { token: string }).token;
    assert.deepEqual((res.json as { permissions: string[] }).permissions, [
      'secrets:read',
      'tenant.apiKey:read',
    ]);
    assertStatus(await request(server.url, 'GET', '/api/default/secrets', { token }), 401);
  });

  it('409 on a duplicate name', async () => {
    assertStatus(await keys('POST', '', admin, { name: 'dup', permissions: ['*'] }), 201);
    const res = await keys('POST', '', admin, { name: 'dup', permissions: ['*'] });
    assertStatus(res, 409);
    assert.equal((res.json as { code: string }).code, 'api_key_exists');
  });

  it('400 on an invalid name, missing or unknown permissions, unknown properties', async () => {
    for (const name of ['', 'has space', 'a'.repeat(65), 'slash/name', 'ümlaut']) {
      const res = await keys('POST', '', admin, { name, permissions: ['*'] });
      assertStatus(res, 400);
      assert.ok((res.json as { errors: Record<string, unknown> }).errors.name);
    }
    const unknown = await keys('POST', '', admin, { name: 'x', permissions: ['Secret.Read', 'root'] });
    assertStatus(unknown, 400);
    assert.ok(
      (unknown.json as { errors: Record<string, string[]> }).errors.permissions?.[0]?.includes('root'),
    );
    assertStatus(await keys('POST', '', admin, { name: 'x' }), 400);
    assertStatus(await keys('POST', '', admin, { name: 'x', permissions: [] }), 400);
    assertStatus(await keys('POST', '', admin, { name: 'x', permissions: ['*'], token: 'mine' }), 400);
    assertStatus(await keys('POST', '', admin, { permissions: ['*'] }), 400);
  });

  it('updates enabled and permissions; disabling takes effect on the next request', async () => {
    const token = (
      (await keys('POST', '', admin, { name: 'toggled', permissions: ['Secret.Read'] })).json as {
        token: string;
      }
    ).token;
    assertStatus(await request(server.url, 'GET', '/api/default/secrets', { token }), 200);
    const off = await keys('PUT', '/toggled', admin, { enabled: false });
    assertStatus(off, 200);
    assert.deepEqual(off.json, { name: 'toggled', enabled: false, permissions: ['Secret.Read'] });
    assertStatus(await request(server.url, 'GET', '/api/default/secrets', { token }), 401);
    const on = await keys('PUT', '/toggled', admin, { enabled: true, permissions: ['tenant.apiKey:read'] });
    assert.deepEqual(on.json, { name: 'toggled', enabled: true, permissions: ['tenant.apiKey:read'] });
    assertStatus(await request(server.url, 'GET', '/api/default/secrets', { token }), 403);
    assertStatus(await keys('GET', '', token), 200);
  });

  it('update: 404 for an unknown key, 400 for a bad body', async () => {
    assertStatus(await keys('PUT', '/ghost', admin, { enabled: true }), 404);
    assertStatus(await keys('PUT', '/toggled', admin, { permissions: ['*'] }), 400);
    assertStatus(await keys('PUT', '/toggled', admin, { enabled: 'yes' }), 400);
    assertStatus(await keys('PUT', '/toggled', admin, { enabled: true, permissions: ['nope'] }), 400);
    assertStatus(await keys('PUT', '/toggled', admin, { enabled: true, permissions: [] }), 400);
  });

  it('get and delete: 404 for an unknown key; a deleted key stops working at once', async () => {
    assertStatus(await keys('GET', '/ghost', admin), 404);
    assertStatus(await keys('DELETE', '/ghost', admin), 404);
    const token = (
      (await keys('POST', '', admin, { name: 'doomed', permissions: ['*'] })).json as { token: string }
    ).token;
    assertStatus(await request(server.url, 'GET', '/api/default/secrets', { token }), 200);
    const del = await keys('DELETE', '/doomed', admin);
    assertStatus(del, 204);
    assert.equal(del.text, '');
    assertStatus(await request(server.url, 'GET', '/api/default/secrets', { token }), 401);
    assertStatus(await keys('GET', '/doomed', admin), 404);
  });

  it('a key can never grant, or manage a key holding, what it does not hold', async () => {
    const manager = (
      (
        await keys('POST', '', admin, {
          name: 'manager',
          permissions: ['tenant.apiKey:write', 'tenant.apiKey:read', 'Secret.Read'],
        })
      ).json as { token: string }
    ).token;
    assertStatus(await keys('POST', '', manager, { name: 'escalated', permissions: ['*'] }), 403);
    assertStatus(await keys('POST', '', manager, { name: 'writer', permissions: ['Secret.Write'] }), 403);
    assertStatus(await keys('POST', '', manager, { name: 'reader', permissions: ['secrets:read'] }), 201);
    assertStatus(await keys('PUT', '/reader', manager, { enabled: true, permissions: ['*'] }), 403);
    assertStatus(await keys('PUT', '/admin', manager, { enabled: false }), 403);
    assertStatus(await keys('DELETE', '/admin', manager), 403);
    assertStatus(await keys('DELETE', '/reader', manager), 204);
    // The admin key is untouched.
    assertStatus(await keys('GET', '/admin', admin), 200);
  });
});
