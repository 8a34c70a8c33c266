import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type HttpResult, request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SECRET_KEYS = [
  'createdAt',
  'description',
  'expiresOn',
  'hasValue',
  'id',
  'name',
  'notBefore',
  'scopes',
  'storeId',
  'updatedAt',
  'version',
];

function uniqueValue(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

function assertProblem(res: HttpResult, status: number, code?: string): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = res.json as Record<string, unknown>;
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  if (code !== undefined) assert.equal(body.code, code, res.text);
}

describe('/v1 secrets', () => {
  let server: TestServer;
  const call = (
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ) => request(server.url, method, path, { token: server.adminToken, auth: 'bearer', ...options });

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('addresses the Neostore default store: a value written with PUT /api/{t}/secrets/{k} is read by name and by id', async () => {
    const value = uniqueValue('neo');
    const put = await request(server.url, 'PUT', '/api/default/secrets/NEO_KEY', {
      token: server.adminToken,
      body: { value },
    });
    assert.equal(put.status, 204);
    const stores = await call('GET', '/v1/tenants/default/stores');
    assert.equal(stores.status, 200);
    const def = (stores.json as { items: { id: string; name: string }[] }).items.find(
      (s) => s.name === 'default',
    );
    assert.ok(def);
    assert.match(def.id, /^[0-9a-f]{32}$/);

    const meta = await call('GET', '/v1/tenants/default/stores/default/secrets/NEO_KEY');
    assert.equal(meta.status, 200);
    assert.deepEqual(Object.keys(meta.json as object).sort(), SECRET_KEYS);
    assert.ok(!meta.text.includes(value), 'no value without ?reveal=true');
    assert.equal(meta.headers.get('etag'), '"1"');
    assert.equal(meta.headers.get('cache-control'), 'no-store');
    const body = meta.json as Record<string, unknown>;
    assert.equal(body.version, 1);
    assert.equal(body.hasValue, true);
    assert.equal(body.storeId, def.id);
    assert.match(String(body.createdAt), ISO);

    const byId = await call('GET', `/v1/tenants/default/stores/${def.id}/secrets/NEO_KEY?reveal=true`);
    assert.equal(byId.status, 200);
    assert.equal((byId.json as { value: string }).value, value);
    assert.equal(byId.headers.get('cache-control'), 'no-store');
    assert.equal(byId.headers.get('etag'), '"1"');
  });

  it('addresses an envs store {project}/{env} by its URL-encoded name', async () => {
    const declared = await request(server.url, 'POST', '/default/web/envs/production/secrets', {
      token: server.adminToken,
      auth: 'bearer',
      body: { kind: 'Secret', name: 'API_TOKEN', description: 'from envs' },
    });
    assert.equal(declared.status, 201, declared.text);
    const meta = await call('GET', '/v1/tenants/default/stores/web%2Fproduction/secrets/API_TOKEN');
    assert.equal(meta.status, 200, meta.text);
    assert.equal((meta.json as { description: string }).description, 'from envs');
    assert.equal((meta.json as { version: unknown }).version, null);
    assert.equal(meta.headers.get('etag'), '"0"');
    const store = await call('GET', '/v1/tenants/default/stores/web%2Fproduction');
    assert.equal((store.json as { name: string }).name, 'web/production');

    const value = uniqueValue('envs');
    const set = await call('PUT', '/v1/tenants/default/stores/web%2Fproduction/secrets/API_TOKEN', {
      body: { value },
      headers: { 'if-match': '"0"' },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal((set.json as { version: number }).version, 1);
    assert.equal((set.json as { description: string }).description, 'from envs', 'absent fields are kept');
    const envsView = await request(server.url, 'GET', '/default/web/envs/production/secrets/API_TOKEN', {
      token: server.adminToken,
      auth: 'bearer',
    });
    assert.equal((envsView.json as { hasValue: boolean }).hasValue, true);
  });

  it('creates (201), updates (200) with metadata, and a value only appears with ?reveal=true', async () => {
    await call('POST', '/v1/tenants/default/stores', { body: { name: 'crud' } });
    const first = uniqueValue('first');
    const created = await call('PUT', '/v1/tenants/default/stores/crud/secrets/DB_URL', {
      body: {
        value: first,
        description: 'database',
        scopes: ['workers'],
        notBefore: '2000-01-01T00:00:00Z',
        expiresOn: '2999-01-01T00:00:00Z',
      },
    });
    assert.equal(created.status, 201, created.text);
    assert.ok(!created.text.includes(first));
    assert.equal(created.headers.get('etag'), '"1"');
    const c = created.json as Record<string, unknown>;
    assert.deepEqual(c.scopes, ['workers']);
    assert.equal(c.notBefore, '2000-01-01T00:00:00.000Z');
    assert.equal(c.expiresOn, '2999-01-01T00:00:00.000Z');

    const meta = await call('PUT', '/v1/tenants/default/stores/crud/secrets/DB_URL', {
      body: { description: null, expiresOn: null },
    });
    assert.equal(meta.status, 200);
    const m = meta.json as Record<string, unknown>;
    assert.equal(m.description, null);
    assert.equal(m.expiresOn, null);
    assert.equal(m.notBefore, '2000-01-01T00:00:00.000Z');
    assert.equal(m.version, 1, 'metadata edits make no version');

    const second = uniqueValue('second');
    const updated = await call('PUT', '/v1/tenants/default/stores/crud/secrets/DB_URL', {
      body: { value: second },
    });
    assert.equal(updated.headers.get('etag'), '"2"');
    const revealed = await call('GET', '/v1/tenants/default/stores/crud/secrets/DB_URL?reveal=true');
    assert.equal((revealed.json as { value: string }).value, second);
    assert.equal((revealed.json as { version: number }).version, 2);
    const plain = await call('GET', '/v1/tenants/default/stores/crud/secrets/DB_URL?reveal=false');
    assert.ok(!plain.text.includes(second));
  });

  it('declares a secret without a value, then refuses to reveal it (404) and to set a window alone (400)', async () => {
    await call('POST', '/v1/tenants/default/stores', { body: { name: 'declared' } });
    const created = await call('PUT', '/v1/tenants/default/stores/declared/secrets/LATER', { body: {} });
    assert.equal(created.status, 201);
    assert.equal((created.json as { hasValue: boolean }).hasValue, false);
    assertProblem(
      await call('GET', '/v1/tenants/default/stores/declared/secrets/LATER?reveal=true'),
      404,
      'secret_value_not_found',
    );
    assertProblem(
      await call('PUT', '/v1/tenants/default/stores/declared/secrets/LATER', {
        body: { expiresOn: '2999-01-01T00:00:00Z' },
      }),
      400,
      'value_required',
    );
  });

  it('optimistic concurrency: If-Match with a stale version is 412 and changes nothing', async () => {
    await call('POST', '/v1/tenants/default/stores', { body: { name: 'occ' } });
    const path = '/v1/tenants/default/stores/occ/secrets/COUNTER';
    assert.equal(
      (await call('PUT', path, { body: { value: 'one' }, headers: { 'if-none-match': '*' } })).status,
      201,
    );
    assertProblem(
      await call('PUT', path, { body: { value: 'dup' }, headers: { 'if-none-match': '*' } }),
      412,
      'precondition_failed',
    );
    const read = await call('GET', path);
    const etag = read.headers.get('etag') ?? '';
    assert.equal(etag, '"1"');
    // Two writers read version 1; the first wins, the second is refused.
    const a = await call('PUT', path, { body: { value: 'two-a' }, headers: { 'if-match': etag } });
    const b = await call('PUT', path, { body: { value: 'two-b' }, headers: { 'if-match': etag } });
    assert.equal(a.status, 200);
    assertProblem(b, 412, 'precondition_failed');
    const now = await call('GET', `${path}?reveal=true`);
    assert.equal((now.json as { value: string }).value, 'two-a');
    assert.equal(now.headers.get('etag'), '"2"');
    assert.equal(
      (await call('PUT', path, { body: { description: 'x' }, headers: { 'if-match': '*' } })).status,
      200,
    );
    assertProblem(
      await call('PUT', '/v1/tenants/default/stores/occ/secrets/ABSENT', {
        body: { value: 'x' },
        headers: { 'if-match': '*' },
      }),
      412,
    );
    assert.equal((await call('GET', '/v1/tenants/default/stores/occ/secrets/ABSENT')).status, 404);
    for (const bad of ['3', 'W/"2"', '"2", "3"', '"abc"']) {
      assertProblem(
        await call('PUT', path, { body: { value: 'x' }, headers: { 'if-match': bad } }),
        400,
        'invalid_precondition',
      );
    }
    assertProblem(await call('DELETE', path, { headers: { 'if-match': '"1"' } }), 412);
    assert.equal((await call('DELETE', path, { headers: { 'if-match': '"2"' } })).status, 204);
    assertProblem(await call('DELETE', path), 404, 'secret_not_found');
    assertProblem(await call('DELETE', path, { headers: { 'if-match': '*' } }), 412);
  });

  it('concurrent conditional writes on one version: exactly one succeeds', async () => {
    await call('POST', '/v1/tenants/default/stores', { body: { name: 'race' } });
    const path = '/v1/tenants/default/stores/race/secrets/R';
    await call('PUT', path, { body: { value: 'v0' } });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call('PUT', path, { body: { value: `v${i + 1}` }, headers: { 'if-match': '"1"' } }),
      ),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [200, ...Array<number>(9).fill(412)]);
  });

  it('batch reveal: named, all, missing (absent, valueless, expired, not yet valid) in one round trip', async () => {
    await call('POST', '/v1/tenants/default/stores', { body: { name: 'batch' } });
    const base = '/v1/tenants/default/stores/batch';
    const a = uniqueValue('a');
    const b = uniqueValue('b');
    await call('PUT', `${base}/secrets/A`, { body: { value: a } });
    await call('PUT', `${base}/secrets/B`, { body: { value: b } });
    await call('PUT', `${base}/secrets/NOVALUE`, { body: {} });
    await call('PUT', `${base}/secrets/EXPIRED`, { body: { value: 'x', expiresOn: '2001-01-01T00:00:00Z' } });
    await call('PUT', `${base}/secrets/FUTURE`, { body: { value: 'x', notBefore: '2999-01-01T00:00:00Z' } });

    const named = await call('POST', `${base}/reveal`, {
      body: { names: ['B', 'A', 'GHOST', 'NOVALUE', 'EXPIRED', 'FUTURE'] },
    });
    assert.equal(named.status, 200, named.text);
    assert.equal(named.headers.get('cache-control'), 'no-store');
    assert.deepEqual(named.json, {
      secrets: [
        { name: 'B', value: b, version: 1 },
        { name: 'A', value: a, version: 1 },
      ],
      missing: ['GHOST', 'NOVALUE', 'EXPIRED', 'FUTURE'],
    });
    const all = await call('POST', `${base}/reveal`, { body: {} });
    assert.deepEqual(all.json, {
      secrets: [
        { name: 'A', value: a, version: 1 },
        { name: 'B', value: b, version: 1 },
      ],
      missing: ['EXPIRED', 'FUTURE'],
    });
    assertProblem(
      await call('POST', `${base}/reveal`, {
        body: { names: Array.from({ length: 1001 }, (_, i) => `N${i}`) },
      }),
      400,
    );
    assertProblem(
      await call('POST', `${base}/reveal`, { body: { names: ['bad name'] } }),
      400,
      'validation_failed',
    );
    assertProblem(await call('POST', `${base}/reveal`, { body: { nope: 1 } }), 400);
    assertProblem(
      await call('POST', '/v1/tenants/default/stores/ghost/reveal', { body: {} }),
      404,
      'store_not_found',
    );
  });

  it('stores: create (409 on a taken name), get, delete empty, 409 when not empty unless force', async () => {
    const created = await call('POST', '/v1/tenants/default/stores', { body: { name: 'team/dev' } });
    assert.equal(created.status, 201);
    const id = (created.json as { id: string }).id;
    assertProblem(
      await call('POST', '/v1/tenants/default/stores', { body: { name: 'team/dev' } }),
      409,
      'store_name_taken',
    );
    assertProblem(await call('POST', '/v1/tenants/default/stores', { body: { name: '/bad' } }), 400);
    assert.equal(
      ((await call('GET', `/v1/tenants/default/stores/${id}`)).json as { name: string }).name,
      'team/dev',
    );
    await call('PUT', `/v1/tenants/default/stores/${id}/secrets/S`, { body: { value: 'v' } });
    assertProblem(await call('DELETE', `/v1/tenants/default/stores/${id}`), 409, 'store_not_empty');
    assert.equal((await call('DELETE', `/v1/tenants/default/stores/team%2Fdev?force=true`)).status, 204);
    assertProblem(await call('GET', `/v1/tenants/default/stores/${id}`), 404, 'store_not_found');
    assertProblem(await call('GET', '/v1/tenants/default/stores/nothing-here'), 404, 'store_not_found');
  });

  it('validation and body errors are ProblemDetails: names, dates, unknown fields, non-JSON, bad JSON, unknown routes', async () => {
    await call('POST', '/v1/tenants/default/stores', { body: { name: 'valid' } });
    const base = '/v1/tenants/default/stores/valid/secrets';
    const badName = await call('PUT', `${base}/bad.name`, { body: { value: 'x' } });
    assertProblem(badName, 400, 'validation_failed');
    assert.ok((badName.json as { errors: Record<string, unknown> }).errors.name);
    assertProblem(
      await call('PUT', `${base}/X`, { body: { value: 'x', expiresOn: '2023-02-30T00:00:00Z' } }),
      400,
    );
    assertProblem(await call('PUT', `${base}/X`, { body: { value: 1 } }), 400);
    assertProblem(await call('PUT', `${base}/X`, { body: { value: 'x', extra: true } }), 400);
    assertProblem(
      await call('PUT', `${base}/X`, {
        body: { value: 'x', notBefore: '2030-01-01T00:00:00Z', expiresOn: '2029-01-01T00:00:00Z' },
      }),
      400,
      'invalid_validity_window',
    );
    assertProblem(
      await call('PUT', `${base}/X`, { body: { value: 'x'.repeat(65_537) } }),
      400,
      'secret_value_too_long',
    );
    assertProblem(
      await call('PUT', `${base}/X`, { body: 'value=x', headers: { 'content-type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    );
    const canary = uniqueValue('canary');
    const broken = await call('PUT', `${base}/X`, {
      body: `{"value":"${canary}"`,
      headers: { 'content-type': 'application/json' },
    });
    assertProblem(broken, 400, 'malformed_body');
    assert.ok(!broken.text.includes(canary), 'a malformed body is never echoed');
    assertProblem(await call('GET', `${base}?limit=0`), 400);
    assertProblem(await call('GET', `${base}?limit=1001`), 400);
    assertProblem(await call('GET', `${base}?cursor=%%%`), 400, 'invalid_cursor');
    assertProblem(await call('GET', '/v1/tenants/bad%20tenant/stores'), 400);
    assertProblem(await call('GET', '/v1/nothing'), 404, 'route_not_found');
    assertProblem(await call('GET', `${base}/GHOST`), 404, 'secret_not_found');
  });
});
