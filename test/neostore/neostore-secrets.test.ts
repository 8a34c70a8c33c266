import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const PROBLEM = 'application/problem+json; charset=utf-8';

function assertProblem(
  res: { status: number; headers: Headers; json: unknown },
  status: number,
): Record<string, unknown> {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), PROBLEM);
  const body = res.json as Record<string, unknown>;
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.type, 'string');
  return body;
}

function assertValidation(res: { status: number; headers: Headers; json: unknown }, field: string): void {
  const body = assertProblem(res, 400);
  assert.equal(body.title, 'One or more validation errors occurred.');
  const errors = body.errors as Record<string, string[]>;
  assert.ok(
    Array.isArray(errors[field]) && errors[field].length > 0,
    `errors.${field} in ${JSON.stringify(body)}`,
  );
}

describe('Neostore secrets API', () => {
  let server: TestServer;
  let token: string;
  const put = (key: string, body: unknown, headers: Record<string, string> = {}) =>
    request(server.url, 'PUT', `/api/default/secrets/${key}`, { token, body, headers });

  before(async () => {
    server = await startTestServer();
    token = server.adminToken;
  });
  after(() => server.close());

  it('PUT stores a value (204, no body) and GET returns it as text/plain with no-store', async () => {
    const res = await put('db-password', { value: 'hunter2' });
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    const get = await request(server.url, 'GET', '/api/default/secrets/db-password', { token });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(get.headers.get('cache-control'), 'no-store');
    assert.equal(get.text, 'hunter2');
  });

  it('GET answers a JSON string for application/json and text/json, and accepts bearer auth', async () => {
    await put('json-value', { value: 'line1\n"quoted"' });
    const json = await request(server.url, 'GET', '/api/default/secrets/json-value', {
      token,
      auth: 'bearer',
      headers: { accept: 'application/json' },
    });
    assert.equal(json.status, 200);
    assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(json.json, 'line1\n"quoted"');
    const textJson = await request(server.url, 'GET', '/api/default/secrets/json-value', {
      token,
      headers: { accept: 'text/json' },
    });
    assert.equal(textJson.headers.get('content-type'), 'text/json; charset=utf-8');
    assert.equal(textJson.json, 'line1\n"quoted"');
    const prefersText = await request(server.url, 'GET', '/api/default/secrets/json-value', {
      token,
      headers: { accept: 'application/json;q=0.5, text/plain' },
    });
    assert.equal(prefersText.text, 'line1\n"quoted"');
  });

  it('PUT replaces the value and window as a new version', async () => {
    await put('rotating', { value: 'v1', options: { expiresOn: '2001-01-01T00:00:00Z' } });
    assert.equal((await request(server.url, 'GET', '/api/default/secrets/rotating', { token })).status, 404);
    await put('rotating', { value: 'v2' });
    const get = await request(server.url, 'GET', '/api/default/secrets/rotating', { token });
    assert.equal(get.status, 200);
    assert.equal(get.text, 'v2');
  });

  it('GET list returns sorted names and never values', async () => {
    for (const key of ['zeta', 'Alpha', 'beta_2', 'a-1']) await put(key, { value: `value-of-${key}` });
    const res = await request(server.url, 'GET', '/api/default/secrets', { token });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const names = res.json as string[];
    assert.deepEqual(names, [...names].sort());
    for (const key of ['zeta', 'Alpha', 'beta_2', 'a-1']) assert.ok(names.includes(key));
    assert.ok(!res.text.includes('value-of-'));
  });

  it('keys are case-sensitive and accept underscores', async () => {
    await put('Case_Key', { value: 'upper' });
    await put('case_key', { value: 'lower' });
    assert.equal(
      (await request(server.url, 'GET', '/api/default/secrets/Case_Key', { token })).text,
      'upper',
    );
    assert.equal(
      (await request(server.url, 'GET', '/api/default/secrets/case_key', { token })).text,
      'lower',
    );
  });

  it('validity windows: not yet valid and expired secrets are 404; ISO and epoch seconds both accepted', async () => {
    await put('future', { value: 'x', options: { notBefore: '2999-01-01T00:00:00Z' } });
    await put('past', { value: 'x', options: { expiresOn: 946684800 } });
    await put('current', {
      value: 'now',
      options: { notBefore: 946684800, expiresOn: '2999-12-31T23:59:59+02:00' },
    });
    assertProblem(await request(server.url, 'GET', '/api/default/secrets/future', { token }), 404);
    assertProblem(await request(server.url, 'GET', '/api/default/secrets/past', { token }), 404);
    assert.equal((await request(server.url, 'GET', '/api/default/secrets/current', { token })).text, 'now');
  });

  it('GET of a missing key is 404 ProblemDetails', async () => {
    const body = assertProblem(await request(server.url, 'GET', '/api/default/secrets/nope', { token }), 404);
    assert.equal(body.code, 'secret_not_found');
  });

  it('DELETE is 204, also when already gone, and the value is destroyed', async () => {
    await put('temp', { value: 'bye' });
    const del = await request(server.url, 'DELETE', '/api/default/secrets/temp', { token });
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assert.equal((await request(server.url, 'GET', '/api/default/secrets/temp', { token })).status, 404);
    assert.equal((await request(server.url, 'DELETE', '/api/default/secrets/temp', { token })).status, 204);
    const names = (await request(server.url, 'GET', '/api/default/secrets', { token })).json as string[];
    assert.ok(!names.includes('temp'));
  });

  it('a 60 KB value and non-ASCII values round-trip byte for byte', async () => {
    const big = 'abcdefghij'.repeat(6_000);
    const unicode = 'Grüße, 世界! 🔐 \u0000 \t tab';
    await put('big', { value: big });
    await put('unicode', { value: unicode });
    assert.equal((await request(server.url, 'GET', '/api/default/secrets/big', { token })).text, big);
    const raw = await fetch(`${server.url}/api/default/secrets/unicode`, { headers: { 'x-api-key': token } });
    assert.deepEqual(Buffer.from(await raw.arrayBuffer()), Buffer.from(unicode, 'utf8'));
  });

  it('accepts a value of exactly 65,536 UTF-8 bytes and refuses 65,537', async () => {
    const exact = `${'é'.repeat(32_767)}ab`; // 65,534 + 2 bytes
    assert.equal(Buffer.byteLength(exact), 65_536);
    assert.equal((await put('limit', { value: exact })).status, 204);
    assertValidation(await put('limit', { value: `${exact}x` }), 'value');
  });

  it('accepts text/json and application/*+json bodies', async () => {
    const body = JSON.stringify({ value: 'via-text-json' });
    assert.equal((await put('ct1', body, { 'content-type': 'text/json' })).status, 204);
    assert.equal((await put('ct2', body, { 'content-type': 'application/merge-patch+json' })).status, 204);
    assert.equal((await put('ct3', body, { 'content-type': 'application/json; charset=utf-8' })).status, 204);
  });

  describe('PUT validation → 400 ProblemDetails', () => {
    it('a bad key name', async () => {
      for (const key of ['bad.key', 'with%20space', 'a'.repeat(128), 'sl%2Fash', 'üml']) {
        assertValidation(await put(key, { value: 'x' }), 'key');
      }
    });
    it('a missing, null or non-string value', async () => {
      assertValidation(await put('k', {}), 'value');
      assertValidation(await put('k', { value: null }), 'value');
      assertValidation(await put('k', { value: 42 }), 'value');
      assertValidation(await put('k', { value: ['a'] }), 'value');
    });
    it('an unknown property, at the top or in options', async () => {
      assertValidation(await put('k', { value: 'x', extra: 1 }), 'extra');
      assertValidation(await put('k', { value: 'x', options: { ttl: 5 } }), 'options.ttl');
    });
    it('bad dates', async () => {
      for (const notBefore of [
        '2023-02-30T00:00:00Z',
        'tomorrow',
        '2023-13-01',
        1.5,
        -1,
        '1700000000',
        true,
      ]) {
        assertValidation(await put('k', { value: 'x', options: { notBefore } }), 'options.notBefore');
      }
      assertValidation(await put('k', { value: 'x', options: { expiresOn: '25:00' } }), 'options.expiresOn');
    });
    it('notBefore after (or equal to) expiresOn', async () => {
      assertValidation(
        await put('k', {
          value: 'x',
          options: { notBefore: '2030-01-02T00:00:00Z', expiresOn: '2030-01-01T00:00:00Z' },
        }),
        'options.notBefore',
      );
      assertValidation(
        await put('k', { value: 'x', options: { notBefore: 1900000000, expiresOn: 1900000000 } }),
        'options.notBefore',
      );
    });
    it('malformed JSON, an empty body, a JSON non-object', async () => {
      const malformed = assertProblem(
        await put('k', '{"value":', { 'content-type': 'application/json' }),
        400,
      );
      assert.equal(malformed.code, 'malformed_body');
      assertProblem(await put('k', '', { 'content-type': 'application/json' }), 400);
      assertProblem(await put('k', '"just a string"', { 'content-type': 'application/json' }), 400);
    });
    it('a wrong or missing content type', async () => {
      const body = JSON.stringify({ value: 'x' });
      assert.equal(
        assertProblem(await put('k', body, { 'content-type': 'text/plain' }), 400).code,
        'unsupported_media_type',
      );
      assertProblem(await put('k', body, { 'content-type': 'application/x-www-form-urlencoded' }), 400);
      assertProblem(await request(server.url, 'PUT', '/api/default/secrets/k', { token, body }), 400);
    });
    it('prototype-pollution keys', async () => {
      assertProblem(
        await put('k', '{"value":"x","__proto__":{"admin":true}}', { 'content-type': 'application/json' }),
        400,
      );
      assertProblem(
        await put('k', '{"value":"x","constructor":{"prototype":{"a":1}}}', {
          'content-type': 'application/json',
        }),
        400,
      );
    });
    it('an oversized body → 413', async () => {
      const body = JSON.stringify({ value: 'x'.repeat(600 * 1024) });
      const res = await put('k', body, { 'content-type': 'application/json' });
      assertProblem(res, 413);
    });
    it('nothing was stored by any refused request', async () => {
      assertProblem(await request(server.url, 'GET', '/api/default/secrets/k', { token }), 404);
    });
  });

  it('unknown routes under /api are 404 ProblemDetails', async () => {
    assertProblem(await request(server.url, 'GET', '/api/default/nothing-here', { token }), 404);
  });

  it('bad input never yields a 500 nor echoes the body', async () => {
    const secretish = 'TOPSECRET-IN-BODY';
    const res = await put('k', `{"value": "${secretish}",`, { 'content-type': 'application/json' });
    assert.equal(res.status, 400);
    assert.ok(!res.text.includes(secretish));
  });
});
