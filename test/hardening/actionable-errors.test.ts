import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Errors a person can act on (issue 18): a token sent without its scheme, and a secret that is not
 * valid yet, each in every facade's own shape.
 */
describe('an Authorization header without the Bearer scheme', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const facades = [
    {
      name: 'neostore',
      path: '/api/default/secrets',
      message: (json: unknown) => String((json as { detail?: unknown }).detail),
      code: (json: unknown) => (json as { code?: unknown }).code,
      expectedCode: 'missing_credentials',
      alternatives: '`Authorization: Bearer <token>` or `X-API-KEY: <token>`',
    },
    {
      name: 'v1',
      path: '/v1/tenants/default/stores',
      message: (json: unknown) => String((json as { detail?: unknown }).detail),
      code: (json: unknown) => (json as { code?: unknown }).code,
      expectedCode: 'missing_credentials',
      alternatives: '`Authorization: Bearer <token>` or `X-API-KEY: <token>`',
    },
    {
      name: 'cloudflare',
      path: '/client/v4/accounts/default/secrets_store/stores',
      message: (json: unknown) => String((json as { errors: { message: string }[] }).errors[0]?.message),
      code: (json: unknown) => (json as { errors: { code: number }[] }).errors[0]?.code,
      expectedCode: 1100,
      alternatives: '`Authorization: Bearer <token>`',
    },
    {
      name: 'envs',
      path: '/default/web/envs/dev/secrets',
      message: (json: unknown) => String((json as { error?: unknown }).error),
      code: (json: unknown) => (json as { code?: unknown }).code,
      expectedCode: 'missing_credentials',
      alternatives: '`Authorization: Bearer <token>`',
    },
  ];

  for (const facade of facades) {
    it(`${facade.name}: says the scheme is missing, or wrong, without quoting the header`, async () => {
      const bare = await request(server.url, 'GET', facade.path, {
        headers: { authorization: server.adminToken },
      });
      assert.equal(bare.status, 401, bare.text);
      assert.equal(facade.code(bare.json), facade.expectedCode);
      assert.equal(
        facade.message(bare.json),
        `The Authorization header is missing its scheme: send ${facade.alternatives}.`,
      );
      assert.ok(!bare.text.includes(server.adminToken), 'the token is not echoed');

      const basic = await request(server.url, 'GET', facade.path, {
        headers: { authorization: `Basic ${server.adminToken}` },
      });
      assert.equal(basic.status, 401);
      assert.equal(
        facade.message(basic.json),
        `The Authorization header must use the Bearer scheme: send ${facade.alternatives}.`,
      );
      assert.ok(!basic.text.includes(server.adminToken), 'the token is not echoed');

      // The same token with its scheme is accepted: the message was about the scheme alone.
      const ok = await request(server.url, 'GET', facade.path, {
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      assert.equal(ok.status, 200, ok.text);
    });
  }
});

describe('a secret that is not valid yet', () => {
  let server: TestServer;
  let admin: string;
  let revealOnly: string;
  let reader: string;
  const notBefore = '2099-01-02T03:04:05.000Z';

  before(async () => {
    server = await startTestServer();
    admin = await server.createKey('acme', 'admin', ['*']);
    revealOnly = await server.createKey('acme', 'reveal-only', ['secrets:reveal']);
    reader = await server.createKey('acme', 'reader', ['secrets:read', 'secrets:reveal']);
    const put = await request(server.url, 'PUT', '/api/acme/secrets/later', {
      token: admin,
      body: { value: 'future', options: { notBefore } },
    });
    assert.equal(put.status, 204, put.text);
  });
  after(() => server.close());

  it('Neostore: 404 that says when it becomes valid, to a caller holding secrets:read', async () => {
    for (const token of [admin, reader]) {
      const res = await request(server.url, 'GET', '/api/acme/secrets/later', { token });
      assert.equal(res.status, 404);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const body = res.json as Record<string, unknown>;
      assert.equal(body.code, 'secret_not_yet_valid');
      assert.equal(body.detail, `The secret is not valid yet: it becomes valid at ${notBefore}.`);
      assert.equal(body.validFrom, notBefore);
      assert.ok(!res.text.includes('future'), 'no value');
    }
  });

  it('Neostore: the plain 404 to a caller who may not know the secret exists', async () => {
    const res = await request(server.url, 'GET', '/api/acme/secrets/later', { token: revealOnly });
    assert.equal(res.status, 404);
    const body = res.json as Record<string, unknown>;
    assert.equal(body.code, 'secret_not_found');
    assert.equal(body.detail, 'The secret does not exist.');
    assert.equal(body.validFrom, undefined);
    // Exactly the answer for a secret that does not exist at all.
    const missing = await request(server.url, 'GET', '/api/acme/secrets/never', { token: revealOnly });
    assert.equal(missing.status, 404);
    const withoutTrace = (o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'traceId'));
    assert.deepEqual(withoutTrace(body), withoutTrace(missing.json as Record<string, unknown>));
  });

  it('/v1: ?reveal=true is a 404 secret_not_yet_valid; the metadata still reads', async () => {
    const res = await request(
      server.url,
      'GET',
      '/v1/tenants/acme/stores/default/secrets/later?reveal=true',
      {
        token: reader,
      },
    );
    assert.equal(res.status, 404, res.text);
    const body = res.json as Record<string, unknown>;
    assert.equal(body.code, 'secret_not_yet_valid');
    assert.equal(body.validFrom, notBefore);
    const meta = await request(server.url, 'GET', '/v1/tenants/acme/stores/default/secrets/later', {
      token: reader,
    });
    assert.equal(meta.status, 200);
    assert.equal((meta.json as { notBefore: string }).notBefore, notBefore);
    // A secret that does not exist keeps its own answer.
    const missing = await request(
      server.url,
      'GET',
      '/v1/tenants/acme/stores/default/secrets/never?reveal=true',
      {
        token: reader,
      },
    );
    assert.equal(missing.status, 404);
    assert.equal((missing.json as { code: string }).code, 'secret_value_not_found');
  });
});
