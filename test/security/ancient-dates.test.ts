import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 8: JavaScript's Date maps years 0–99 to 1900–1999, so "0099-06-01" was stored as
 * 1999-06-01: a window set for one date silently became another. A date is kept exactly or
 * refused; years before 1970 are outside the accepted range, so they are a 400 naming the field.
 */
const ANCIENT = ['0099-06-01', '0000-01-01T00:00:00Z', '0069-12-31T23:59:59Z', '0001-02-28T12:00:00+01:00'];

describe('security: dates with years 0000–0099 are refused, never moved to 19xx', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    // Creates the Neostore `default` store, which /v1 addresses below.
    const seed = await request(server.url, 'PUT', '/api/default/secrets/seed', {
      token: server.adminToken,
      body: { value: 'x' },
    });
    assert.equal(seed.status, 204);
  });
  after(() => server.close());

  it('Neostore PUT: 400 ProblemDetails naming options.notBefore / options.expiresOn; nothing stored', async () => {
    for (const date of ANCIENT) {
      for (const field of ['notBefore', 'expiresOn'] as const) {
        const res = await request(server.url, 'PUT', '/api/default/secrets/ancient', {
          token: server.adminToken,
          body: { value: 'x', options: { [field]: date } },
        });
        assert.equal(res.status, 400, `${field}=${date}: ${res.text}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
        const errors = (res.json as { errors?: Record<string, string[]> }).errors ?? {};
        assert.ok(Array.isArray(errors[`options.${field}`]), res.text);
      }
    }
    const get = await request(server.url, 'GET', '/api/default/secrets/ancient', {
      token: server.adminToken,
    });
    assert.equal(get.status, 404);
  });

  it('/v1 PUT: 400 invalid_instant; the secret is not created', async () => {
    const base = '/v1/tenants/default/stores/default/secrets';
    for (const date of ANCIENT) {
      for (const field of ['notBefore', 'expiresOn'] as const) {
        const res = await request(server.url, 'PUT', `${base}/ANCIENT`, {
          token: server.adminToken,
          auth: 'bearer',
          body: { value: 'x', [field]: date.length === 10 ? `${date}T00:00:00Z` : date },
        });
        assert.equal(res.status, 400, `${field}=${date}: ${res.text}`);
        assert.equal((res.json as { code?: string }).code, 'invalid_instant', res.text);
      }
    }
    const get = await request(server.url, 'GET', `${base}/ANCIENT`, {
      token: server.adminToken,
      auth: 'bearer',
    });
    assert.equal(get.status, 404);
  });

  it('dates from 1970 on are kept exactly (2099 stays 2099, 1970 stays 1970)', async () => {
    const base = '/v1/tenants/default/stores/default/secrets';
    const res = await request(server.url, 'PUT', `${base}/EXACT`, {
      token: server.adminToken,
      auth: 'bearer',
      body: { value: 'x', notBefore: '1970-01-01T00:00:00Z', expiresOn: '2099-06-01T00:00:00+02:00' },
    });
    assert.equal(res.status, 201, res.text);
    const body = res.json as { notBefore: string; expiresOn: string };
    assert.equal(body.notBefore, '1970-01-01T00:00:00.000Z');
    assert.equal(body.expiresOn, '2099-05-31T22:00:00.000Z');
    const neo = await request(server.url, 'PUT', '/api/default/secrets/future', {
      token: server.adminToken,
      body: { value: 'x', options: { notBefore: '2099-06-01' } },
    });
    assert.equal(neo.status, 204);
    const read = await request(server.url, 'GET', '/api/default/secrets/future', {
      token: server.adminToken,
    });
    assert.equal(read.status, 404, 'not valid before 2099, not 1999');
  });
});
