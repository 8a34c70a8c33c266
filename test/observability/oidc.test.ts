import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import { ConfigError, parseConfig } from '../../src/config.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  AUDIENCE,
  type LocalIdentityProvider,
  startLocalIdentityProvider,
  unsignedToken,
  withPayload,
} from './local-identity-provider.js';
import { parseSamples, total } from './prometheus-text.js';

const TENANT = 'default';
const OTHER_TENANT = 'other-co';
const VALUE = 'oidc-secret-value-8d2k';

function oidcEnv(idp: LocalIdentityProvider, extra: Record<string, string> = {}): Record<string, string> {
  return { COFFER_OIDC_ISSUER: idp.issuer, COFFER_OIDC_AUDIENCE: AUDIENCE, ...extra };
}

function assertProblem401(res: { status: number; headers: Headers; json: unknown; text: string }): void {
  assert.equal(res.status, 401, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = res.json as { status: number; code: string };
  assert.equal(body.status, 401);
  // Every refusal looks alike: the caller cannot tell expired from forged.
  assert.equal(body.code, 'invalid_credentials');
  assert.ok(!res.text.includes(VALUE));
}

describe('OIDC bearer tokens', () => {
  let idp: LocalIdentityProvider;
  let server: TestServer;
  const secret = `/api/${TENANT}/secrets/oidc-db-password`;

  /** A token for `sub` in TENANT with the given permissions claim, plus any other claims. */
  const token = (permissions: string[] | string, claims: JWTPayload = {}) =>
    idp.mint({ sub: 'user-1', coffer_tenant: TENANT, coffer_permissions: permissions, ...claims });

  before(async () => {
    idp = await startLocalIdentityProvider();
    server = await startTestServer({ env: oidcEnv(idp) });
    await server.createKey(OTHER_TENANT, 'admin', ['*']);
    const put = await request(server.url, 'PUT', secret, {
      token: server.adminToken,
      body: { value: VALUE },
    });
    assert.equal(put.status, 204);
  });
  after(async () => {
    await server.close();
    await idp.close();
  });

  describe('accepted', () => {
    it('reads and writes on Neostore with `Authorization: Bearer <jwt>`', async () => {
      const writer = await token(['secrets:write', 'secrets:set-value']);
      const put = await request(server.url, 'PUT', `/api/${TENANT}/secrets/oidc-written`, {
        token: writer,
        auth: 'bearer',
        body: { value: 'written-by-oidc' },
      });
      assert.equal(put.status, 204, put.text);
      const reader = await token('Secret.Read');
      const get = await request(server.url, 'GET', secret, { token: reader, auth: 'bearer' });
      assert.equal(get.status, 200, get.text);
      assert.equal(get.text, VALUE);
      const written = await request(server.url, 'GET', `/api/${TENANT}/secrets/oidc-written`, {
        token: reader,
        auth: 'bearer',
      });
      assert.equal(written.text, 'written-by-oidc');
    });

    it('takes permissions from OAuth `scope` (space-separated, aliases included) and ignores unknown ones', async () => {
      const jwt = await idp.mint({
        sub: 'user-2',
        coffer_tenant: TENANT,
        scope: 'openid profile Secret.Read',
      });
      const get = await request(server.url, 'GET', secret, { token: jwt, auth: 'bearer' });
      assert.equal(get.status, 200, get.text);
      const list = await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: jwt, auth: 'bearer' });
      assert.equal(list.status, 200);
    });

    it('works on the Cloudflare facade', async () => {
      const jwt = await token(['Secrets Store Read']);
      const res = await request(server.url, 'GET', `/client/v4/accounts/${TENANT}/secrets_store/stores`, {
        token: jwt,
        auth: 'bearer',
      });
      assert.equal(res.status, 200, res.text);
      const body = res.json as { success: boolean; result: { name: string }[] };
      assert.equal(body.success, true);
      assert.ok(body.result.some((s) => s.name === 'default'));
    });

    it('works on the envs facade', async () => {
      const jwt = await token(['secrets:read']);
      const res = await request(server.url, 'GET', `/${TENANT}/web/envs/prod/secrets`, {
        token: jwt,
        auth: 'bearer',
      });
      assert.equal(res.status, 200, res.text);
    });

    it('leaves Coffer tokens working unchanged', async () => {
      const res = await request(server.url, 'GET', secret, { token: server.adminToken });
      assert.equal(res.text, VALUE);
    });

    it('fetches discovery once and the JWKS once for many tokens', async () => {
      for (let i = 0; i < 3; i++) {
        await request(server.url, 'GET', secret, { token: await token('Secret.Read'), auth: 'bearer' });
      }
      assert.equal(idp.hits.get('/.well-known/openid-configuration'), 1);
      assert.equal(idp.hits.get('/jwks'), 1);
    });
  });

  describe('refused with 401', () => {
    const cases: [string, () => Promise<string>][] = [
      ['an expired token', () => token('Secret.Read', { exp: Math.floor(Date.now() / 1000) - 3600 })],
      ['a token for another audience', () => token('Secret.Read', { aud: 'https://elsewhere.test/api' })],
      ['a token from another issuer', () => token('Secret.Read', { iss: 'https://evil.test' })],
      [
        'a token signed by another key under the published kid',
        () => idp.mint({ sub: 'u', coffer_tenant: TENANT, coffer_permissions: ['*'] }, { foreignKey: true }),
      ],
      [
        'a token signed by a key the JWKS does not have',
        () =>
          idp.mint(
            { sub: 'u', coffer_tenant: TENANT, coffer_permissions: ['*'] },
            { foreignKey: true, kid: 'other' },
          ),
      ],
      [
        'an unsigned token (alg: none)',
        async () =>
          unsignedToken({
            iss: idp.issuer,
            aud: AUDIENCE,
            sub: 'u',
            coffer_tenant: TENANT,
            coffer_permissions: ['*'],
            exp: Math.floor(Date.now() / 1000) + 600,
          }),
      ],
      [
        'a token whose payload was tampered with',
        async () => {
          const real = await token('Secret.Read');
          const claims = JSON.parse(
            Buffer.from(real.split('.')[1] ?? '', 'base64url').toString(),
          ) as JWTPayload;
          return withPayload(real, { ...claims, coffer_permissions: ['*'] });
        },
      ],
      ['a token without the tenant claim', () => idp.mint({ sub: 'u', coffer_permissions: ['*'] })],
      ['a token naming a malformed tenant', () => token('*', { coffer_tenant: '../etc' })],
      ['a token naming a tenant Coffer does not have', () => token('*', { coffer_tenant: 'no-such-tenant' })],
      [
        'a token without exp',
        () => idp.mint({ sub: 'u', coffer_tenant: TENANT, coffer_permissions: ['*'] }, { noExpiry: true }),
      ],
      ['a token without sub', () => idp.mint({ coffer_tenant: TENANT, coffer_permissions: ['*'] })],
      ['three dot-separated parts that are not a JWT', async () => 'aaaa.bbbb.cccc'],
    ];
    for (const [name, make] of cases) {
      it(name, async () => {
        assertProblem401(await request(server.url, 'GET', secret, { token: await make(), auth: 'bearer' }));
      });
    }

    it('answers in each facade’s own shape', async () => {
      const expired = await token('*', { exp: Math.floor(Date.now() / 1000) - 3600 });
      const cf = await request(server.url, 'GET', `/client/v4/accounts/${TENANT}/secrets_store/stores`, {
        token: expired,
        auth: 'bearer',
      });
      assert.equal(cf.status, 401);
      assert.equal((cf.json as { success: boolean }).success, false);
      const envs = await request(server.url, 'GET', `/${TENANT}/web/envs/prod/secrets`, {
        token: expired,
        auth: 'bearer',
      });
      assert.equal(envs.status, 401);
      assert.equal((envs.json as { code: string }).code, 'invalid_credentials');
    });

    it('counts each refusal under its reason in coffer_auth_failures_total', async () => {
      const res = await request(server.url, 'GET', '/metrics');
      const samples = parseSamples(res.text);
      const failures = (reason: string) =>
        total(samples, 'coffer_auth_failures_total', { facade: 'neostore', reason });
      assert.ok(failures('oidc_expired') >= 1);
      assert.ok(failures('oidc_bad_claims') >= 2); // audience, issuer, exp, sub
      assert.ok(failures('oidc_bad_signature') >= 3); // other key, unknown kid, alg none, tampered
      assert.ok(failures('oidc_no_tenant') >= 2);
      assert.ok(failures('oidc_unknown_tenant') >= 1);
      assert.ok(failures('oidc_malformed') >= 1);
      assert.equal(
        total(samples, 'coffer_auth_failures_total', { facade: 'cloudflare', reason: 'oidc_expired' }),
        1,
      );
    });
  });

  describe('refused with 403', () => {
    it('a token of another tenant', async () => {
      const jwt = await token('*', { coffer_tenant: OTHER_TENANT });
      const res = await request(server.url, 'GET', secret, { token: jwt, auth: 'bearer' });
      assert.equal(res.status, 403, res.text);
      assert.ok(!res.text.includes(VALUE));
    });

    it('an under-scoped token', async () => {
      const jwt = await token(['secrets:read']);
      const res = await request(server.url, 'GET', secret, { token: jwt, auth: 'bearer' });
      assert.equal(res.status, 403, res.text);
      assert.equal((res.json as { code: string }).code, 'missing_permission');
      assert.ok(!res.text.includes(VALUE));
    });

    it('a token whose permissions are all unknown', async () => {
      const jwt = await token(['openid', 'admin', 'secrets:everything']);
      const res = await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: jwt, auth: 'bearer' });
      assert.equal(res.status, 403);
    });
  });
});

describe('OIDC configuration variants', () => {
  it('uses COFFER_OIDC_JWKS_URL without discovery, and custom claim names', async () => {
    const idp = await startLocalIdentityProvider();
    const server = await startTestServer({
      env: oidcEnv(idp, {
        COFFER_OIDC_JWKS_URL: idp.jwksUrl,
        COFFER_OIDC_TENANT_CLAIM: 'https://coffer.test/tenant',
        COFFER_OIDC_PERMISSIONS_CLAIM: 'permissions',
      }),
    });
    try {
      const jwt = await idp.mint({
        sub: 'svc',
        'https://coffer.test/tenant': TENANT,
        permissions: ['secrets:read'],
      });
      const res = await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: jwt, auth: 'bearer' });
      assert.equal(res.status, 200, res.text);
      assert.equal(idp.hits.get('/.well-known/openid-configuration'), undefined);
      // The default claim names mean nothing here.
      const defaults = await idp.mint({ sub: 'svc', coffer_tenant: TENANT, coffer_permissions: ['*'] });
      assert.equal(
        (await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: defaults, auth: 'bearer' }))
          .status,
        401,
      );
    } finally {
      await server.close();
      await idp.close();
    }
  });

  it('refuses every JWT with 401 when OIDC is not configured', async () => {
    const idp = await startLocalIdentityProvider();
    const server = await startTestServer();
    try {
      const jwt = await idp.mint({ sub: 'u', coffer_tenant: TENANT, coffer_permissions: ['*'] });
      assertProblem401(
        await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: jwt, auth: 'bearer' }),
      );
      assert.equal(idp.hits.size, 0);
    } finally {
      await server.close();
      await idp.close();
    }
  });

  it('answers 503, not 401, when the identity provider cannot be reached', async () => {
    const idp = await startLocalIdentityProvider();
    const jwt = await idp.mint({ sub: 'u', coffer_tenant: TENANT, coffer_permissions: ['*'] });
    // A port that refuses connections: take one, then close it.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const server = await startTestServer({
      env: { COFFER_OIDC_ISSUER: `http://127.0.0.1:${port}`, COFFER_OIDC_AUDIENCE: AUDIENCE },
    });
    try {
      const res = await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: jwt, auth: 'bearer' });
      assert.equal(res.status, 503, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    } finally {
      await server.close();
      await idp.close();
    }
  });

  it('refuses discovery documents that name another issuer', async () => {
    const idp = await startLocalIdentityProvider();
    // Same provider, configured under a different spelling of its issuer: discovery names the other one.
    const server = await startTestServer({
      env: {
        COFFER_OIDC_ISSUER: idp.issuer.replace('127.0.0.1', 'localhost'),
        COFFER_OIDC_AUDIENCE: AUDIENCE,
      },
    });
    try {
      const jwt = await idp.mint({ sub: 'u', coffer_tenant: TENANT, coffer_permissions: ['*'] });
      const res = await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: jwt, auth: 'bearer' });
      assert.equal(res.status, 503, res.text);
      assert.equal(idp.hits.get('/jwks'), undefined);
    } finally {
      await server.close();
      await idp.close();
    }
  });

  it('validates the OIDC settings at start-up', () => {
    const parse = (env: Record<string, string>) => parseConfig({ ...env, COFFER_DATA_DIR: '/tmp/x' });
    assert.equal(parse({}).oidc, null);
    const ok = parse({ COFFER_OIDC_ISSUER: 'https://idp.example', COFFER_OIDC_AUDIENCE: 'coffer' }).oidc;
    assert.deepEqual(ok, {
      issuer: 'https://idp.example',
      audience: 'coffer',
      jwksUrl: null,
      tenantClaim: 'coffer_tenant',
      permissionsClaim: 'coffer_permissions',
    });
    assert.ok(parse({ COFFER_OIDC_ISSUER: 'http://localhost:9999', COFFER_OIDC_AUDIENCE: 'a' }).oidc);
    const refused: Record<string, string>[] = [
      { COFFER_OIDC_ISSUER: 'https://idp.example' },
      { COFFER_OIDC_AUDIENCE: 'coffer' },
      { COFFER_OIDC_ISSUER: 'http://idp.example', COFFER_OIDC_AUDIENCE: 'a' },
      { COFFER_OIDC_ISSUER: 'not a url', COFFER_OIDC_AUDIENCE: 'a' },
      { COFFER_OIDC_ISSUER: 'https://user:pw@idp.example', COFFER_OIDC_AUDIENCE: 'a' },
      {
        COFFER_OIDC_ISSUER: 'https://idp.example',
        COFFER_OIDC_AUDIENCE: 'a',
        COFFER_OIDC_JWKS_URL: 'http://idp.example/k',
      },
      {
        COFFER_OIDC_ISSUER: 'https://idp.example',
        COFFER_OIDC_AUDIENCE: 'a',
        COFFER_OIDC_TENANT_CLAIM: 'has space',
      },
      { COFFER_OIDC_JWKS_URL: 'https://idp.example/k' },
      { COFFER_METRICS_TOKEN: 'short' },
    ];
    for (const env of refused) assert.throws(() => parse(env), ConfigError, JSON.stringify(env));
    assert.equal(parse({ COFFER_METRICS_TOKEN: 'a-long-enough-token' }).metricsToken, 'a-long-enough-token');
  });
});
