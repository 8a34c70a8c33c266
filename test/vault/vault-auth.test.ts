import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import nodeVault from 'node-vault';
import { OPERATOR } from '../../src/core/actor.js';
import { generateToken } from '../../src/crypto/tokens.js';
import {
  AUDIENCE,
  type LocalIdentityProvider,
  startLocalIdentityProvider,
} from '../observability/local-identity-provider.js';
import { type HttpResult, request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Vault's token routes and JWT login (docs/vault.md, docs/adr/0015-issued-tokens-and-jwt-login.md)
 * over real HTTP against a real server, with a local identity provider (JWKS over HTTP) standing in
 * for GitHub Actions and a Kubernetes API server. The request shapes are those of the clients'
 * sources: hashicorp/vault-action (got: POST JSON), the Vault Go client that ESO and Vault Agent use
 * (PUT, a JSON body without a content type, X-Vault-Token) and ESO's checkToken (lookup-self: `type`,
 * `ttl`, `expire_time`). Runs on the engine of COFFER_TEST_ENGINE.
 */

const TENANT = 'default';
const GITHUB_AUDIENCE = 'https://github.com/octo-org';
const K8S_AUDIENCE = 'vault';
const VALUE = 'vault-auth-canary-3c9e';

/** The server's clock: it stands still until a test moves it (token expiry without sleeping). */
function movableClock() {
  let now = Date.now();
  return {
    now: () => now,
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}

function jwtAuth(idp: LocalIdentityProvider): string {
  return JSON.stringify({
    mounts: {
      jwt: {
        oidc_discovery_url: idp.issuer,
        roles: {
          deploy: {
            tenant: TENANT,
            token_policies: ['secrets:read', 'Secret.Read'],
            bound_audiences: [GITHUB_AUDIENCE],
            bound_claims: { repository: 'octo-org/app' },
            user_claim: 'sub',
            token_ttl: '1m',
            token_max_ttl: '5m',
          },
          branches: {
            tenant: TENANT,
            token_policies: ['secrets:read'],
            bound_audiences: [GITHUB_AUDIENCE],
            bound_claims_type: 'glob',
            bound_claims: { ref: ['refs/heads/release-*'], '/nested/team': 'platform' },
          },
          ghost: {
            tenant: 'no-such-tenant',
            token_policies: ['secrets:read'],
            bound_audiences: [GITHUB_AUDIENCE],
            bound_subject: 'anyone',
          },
        },
      },
      kubernetes: {
        jwks_url: idp.jwksUrl,
        bound_issuer: idp.issuer,
        roles: {
          eso: {
            tenant: TENANT,
            token_policies: ['secrets:read', 'secrets:reveal'],
            bound_audiences: [K8S_AUDIENCE],
            bound_subject: 'system:serviceaccount:eso:external-secrets',
            token_ttl: 600,
            token_max_ttl: 3600,
          },
        },
      },
    },
  });
}

const githubClaims = (extra: JWTPayload = {}): JWTPayload => ({
  sub: 'repo:octo-org/app:ref:refs/heads/main',
  repository: 'octo-org/app',
  ref: 'refs/heads/main',
  aud: GITHUB_AUDIENCE,
  ...extra,
});

/** What hashicorp/vault-action sends (src/auth.js getClientToken: got `json:` → POST, application/json). */
function vaultActionLogin(server: TestServer, jwt: string, role: string, mount = 'jwt') {
  return request(server.url, 'POST', `/vault/v1/auth/${mount}/login`, { body: { jwt, role } });
}

/** What the Vault Go client sends for `Logical().Write` (ESO, Vault Agent): PUT, JSON, no content type. */
function goClientWrite(server: TestServer, path: string, body: unknown, token?: string) {
  return request(server.url, 'PUT', `/vault/v1/${path}`, {
    body: JSON.stringify(body),
    headers: token === undefined ? {} : { 'x-vault-token': token },
  });
}

const vaultGet = (server: TestServer, path: string, token: string) =>
  request(server.url, 'GET', `/vault/v1/${path}`, { headers: { 'x-vault-token': token } });

interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string>;
  lease_duration: number;
  renewable: boolean;
}

function authOf(res: HttpResult): AuthBlock {
  assert.equal(res.status, 200, res.text);
  const body = res.json as { auth: AuthBlock; data: unknown; request_id: string; lease_id: string };
  assert.equal(typeof body.request_id, 'string');
  assert.equal(body.lease_id, '');
  assert.equal(body.data, null);
  return body.auth;
}

function assertVaultError(res: HttpResult, status: number, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = res.json as { errors: string[] };
  assert.ok(Array.isArray(body.errors), res.text);
  assert.deepEqual(Object.keys(body), ['errors']);
  if (message !== undefined) assert.match(body.errors.join('\n'), message, res.text);
  assert.ok(!res.text.includes(VALUE));
}

/** One read per facade, each needing `secrets:read` of TENANT: the token works everywhere or nowhere. */
const FACADE_READS: readonly { facade: string; path: string; auth: 'x-api-key' | 'bearer' }[] = [
  { facade: 'neostore', path: `/api/${TENANT}/secrets`, auth: 'x-api-key' },
  { facade: 'v1', path: `/v1/tenants/${TENANT}/stores`, auth: 'bearer' },
  { facade: 'cloudflare', path: `/client/v4/accounts/${TENANT}/secrets_store/stores`, auth: 'bearer' },
  { facade: 'envs', path: `/${TENANT}/app/envs/dev/secrets`, auth: 'bearer' },
];

async function everyFacade(server: TestServer, token: string): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  for (const read of FACADE_READS) {
    statuses[read.facade] = (await request(server.url, 'GET', read.path, { token, auth: read.auth })).status;
  }
  statuses.vault = (await vaultGet(server, 'auth/token/lookup-self', token)).status;
  return statuses;
}

const ALL_ACCEPT = { neostore: 200, v1: 200, cloudflare: 200, envs: 200, vault: 200 };
const ALL_REFUSE = { neostore: 401, v1: 401, cloudflare: 401, envs: 401, vault: 403 };

describe('Vault auth: JWT login and the token routes', () => {
  let idp: LocalIdentityProvider;
  let server: TestServer;
  const clock = movableClock();

  before(async () => {
    idp = await startLocalIdentityProvider();
    server = await startTestServer({ env: { COFFER_JWT_AUTH: jwtAuth(idp) }, clock });
    await server.runtime.core.secrets.putValue(OPERATOR, {
      tenantId: TENANT,
      name: 'DB_PASSWORD',
      value: VALUE,
    });
  });
  after(async () => {
    await server.close();
    await idp.close();
  });

  describe('auth/jwt/login (vault-action: GitHub OIDC)', () => {
    it('issues a token with the role’s tenant, permissions as policies, metadata and ttl', async () => {
      const res = await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy');
      assert.equal(res.headers.get('cache-control'), 'no-store', 'a token in a body is never cached');
      const auth = authOf(res);
      assert.match(auth.client_token, /^coffer_[0-9A-Za-z]{49}$/);
      assert.match(auth.accessor, /^[0-9A-Za-z]{24}$/);
      // Secret.Read is an alias of secrets:read + secrets:reveal: policies are the canonical names.
      assert.deepEqual(auth.policies, ['secrets:read', 'secrets:reveal']);
      assert.deepEqual(auth.token_policies, auth.policies);
      assert.deepEqual(auth.metadata, { role: 'deploy' });
      assert.equal(auth.lease_duration, 60);
      assert.equal(auth.renewable, true);
      // The token reads through the Vault facade and every other one.
      assert.deepEqual(await everyFacade(server, auth.client_token), ALL_ACCEPT);
      const value = await request(server.url, 'GET', `/api/${TENANT}/secrets/DB_PASSWORD`, {
        token: auth.client_token,
      });
      assert.equal(value.text, VALUE);
    });

    it('is stored only as its hash, and audited in the tenant’s trail with its accessor', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      const stored = await server.runtime.repository.getIssuedToken(auth.accessor);
      assert.ok(stored !== null);
      assert.equal(stored.tokenHash.length, 32);
      assert.ok(!stored.tokenHash.toString('latin1').includes(auth.client_token));
      const events = await server.runtime.repository.listTenantAuditEvents({
        tenantId: TENANT,
        direction: 'desc',
        limit: 20,
      });
      const login = events.find((e) => e.action === 'token.login' && e.resource.endsWith(auth.accessor));
      assert.ok(login, 'a token.login event');
      assert.equal(login.outcome, 'allowed');
      assert.equal(login.actor, 'key:login:jwt/deploy:repo:octo-org/app:ref:refs/heads/main');
      assert.ok(!JSON.stringify(events).includes(auth.client_token));
    });

    it('matches glob bound claims and JSON-pointer claims', async () => {
      const jwt = await idp.mint(
        githubClaims({ ref: 'refs/heads/release-2.1', nested: { team: 'platform' } }),
      );
      assert.deepEqual(authOf(await vaultActionLogin(server, jwt, 'branches')).policies, ['secrets:read']);
      const wrongTeam = await idp.mint(
        githubClaims({ ref: 'refs/heads/release-2.1', nested: { team: 'web' } }),
      );
      assertVaultError(await vaultActionLogin(server, wrongTeam, 'branches'), 400, /claim "\/nested\/team"/);
      const main = await idp.mint(githubClaims({ nested: { team: 'platform' } }));
      assertVaultError(await vaultActionLogin(server, main, 'branches'), 400, /claim "ref" does not match/);
    });

    it('refuses a claim outside the role’s bounds with Vault’s 400 and says which claim', async () => {
      const jwt = await idp.mint(githubClaims({ repository: 'octo-org/other' }));
      const res = await vaultActionLogin(server, jwt, 'deploy');
      assertVaultError(
        res,
        400,
        /^error validating claims: claim "repository" does not match any associated bound claim values$/,
      );
      const missing = await idp.mint(githubClaims({ repository: undefined }));
      assertVaultError(
        await vaultActionLogin(server, missing, 'deploy'),
        400,
        /claim "repository" is missing/,
      );
    });

    it('refuses a JWT for another audience, expired, foreign-signed or unsigned, alike', async () => {
      const now = Math.floor(Date.now() / 1000);
      const bad = [
        await idp.mint(githubClaims({ aud: 'https://github.com/someone-else' })),
        await idp.mint(githubClaims({ exp: now - 3600, iat: now - 7200 })),
        await idp.mint(githubClaims(), { foreignKey: true }),
        await idp.mint(githubClaims({ iss: 'https://evil.example' })),
        await idp.mint(githubClaims(), { noExpiry: true }),
        'not.a.jwt',
      ];
      for (const jwt of bad) {
        assertVaultError(
          await vaultActionLogin(server, jwt, 'deploy'),
          400,
          /^error validating token: the JWT is not valid for this role$/,
        );
      }
    });

    it('refuses an unknown or missing role, a role of a tenant that does not exist, and an unknown mount', async () => {
      const jwt = await idp.mint(githubClaims());
      assertVaultError(await vaultActionLogin(server, jwt, 'nope'), 400, /^role "nope" could not be found$/);
      assertVaultError(
        await request(server.url, 'POST', '/vault/v1/auth/jwt/login', { body: { jwt } }),
        400,
        /^missing role$/,
      );
      const ghost = await idp.mint(githubClaims({ sub: 'anyone' }));
      assertVaultError(
        await vaultActionLogin(server, ghost, 'ghost'),
        400,
        /names a tenant that does not exist/,
      );
      assert.equal(await server.runtime.repository.getTenant('no-such-tenant'), null, 'no tenant conjured');
      assertVaultError(await vaultActionLogin(server, jwt, 'deploy', 'github'), 404);
    });

    it('refuses bad bodies as 400 in Vault’s shape, never 500', async () => {
      for (const body of [
        '{',
        '[]',
        '{"jwt": 5, "role": "deploy"}',
        '{"role": "deploy"}',
        `{"jwt": "${'a'.repeat(20_000)}", "role": "deploy"}`,
        '{"jwt": "x", "role": "deploy", "extra": true}',
      ]) {
        const res = await request(server.url, 'POST', '/vault/v1/auth/jwt/login', {
          body,
          headers: { 'content-type': 'application/json' },
        });
        assertVaultError(res, 400);
      }
    });

    it('records a refused login in the platform trail, never the JWT', async () => {
      const jwt = await idp.mint(githubClaims({ repository: 'octo-org/other' }));
      assertVaultError(await vaultActionLogin(server, jwt, 'deploy'), 400);
      const events = await server.runtime.repository.listTenantAuditEvents({
        tenantId: '',
        direction: 'desc',
        limit: 10,
      });
      const refused = events.find((e) => e.reason === 'login_refused');
      assert.ok(refused, JSON.stringify(events.map((e) => [e.action, e.reason])));
      assert.equal(refused.actor, 'anonymous');
      assert.equal(refused.outcome, 'denied');
      assert.ok(!JSON.stringify(events).includes(jwt));
      // Counted as a failed authentication, by its reason (metrics only; the caller saw its message).
      const metrics = await request(server.url, 'GET', '/metrics');
      assert.match(
        metrics.text,
        /coffer_auth_failures_total\{facade="vault",reason="login_bad_claims"\} [1-9]/,
      );
      assert.ok(!metrics.text.includes(jwt));
    });
  });

  describe('ESO and Vault Agent (the Go client): kubernetes-style login, then lookup-self on every refresh', () => {
    it('PUT auth/kubernetes/login without a content type, then lookup-self answers what checkToken reads', async () => {
      const jwt = await idp.mint({ sub: 'system:serviceaccount:eso:external-secrets', aud: K8S_AUDIENCE });
      const auth = authOf(await goClientWrite(server, 'auth/kubernetes/login', { role: 'eso', jwt }));
      assert.equal(auth.lease_duration, 600);
      const res = await vaultGet(server, 'auth/token/lookup-self', auth.client_token);
      assert.equal(res.status, 200, res.text);
      const data = (res.json as { data: Record<string, unknown> }).data;
      // ESO's checkToken: `type` present and not batch, `ttl` a number, `expire_time` present.
      assert.equal(data.type, 'service');
      assert.equal(data.ttl, 600);
      assert.equal(typeof data.expire_time, 'string');
      const stored = await server.runtime.repository.getIssuedToken(auth.accessor);
      assert.equal(data.expire_time, new Date(stored?.expiresAt ?? 0).toISOString());
      assert.equal(data.id, auth.client_token, 'the Go client reads its token back from data.id');
      assert.equal(data.accessor, auth.accessor);
      assert.deepEqual(data.policies, ['secrets:read', 'secrets:reveal']);
      assert.equal(data.path, 'auth/kubernetes/login');
      assert.equal(data.display_name, 'kubernetes-system:serviceaccount:eso:external-secrets');
      assert.deepEqual(data.meta, { role: 'eso' });
      assert.equal(data.renewable, true);
      assert.equal(data.explicit_max_ttl, 3600);
      assert.equal(data.coffer_tenant, TENANT);
      // POST is accepted for lookup-self too.
      const post = await request(server.url, 'POST', '/vault/v1/auth/token/lookup-self', {
        headers: { 'x-vault-token': auth.client_token },
      });
      assert.equal(post.status, 200, post.text);
    });

    it('an API key (ESO token auth) reports ttl 0 and expire_time null: valid for checkToken, never expiring', async () => {
      const key = await server.createKey(TENANT, 'eso-static', ['secrets:read']);
      const res = await vaultGet(server, 'auth/token/lookup-self', key);
      assert.equal(res.status, 200, res.text);
      const data = (res.json as { data: Record<string, unknown> }).data;
      assert.equal(data.type, 'service');
      assert.equal(data.ttl, 0);
      assert.equal(data.expire_time, null);
      assert.equal(data.renewable, false);
      assert.deepEqual(data.policies, ['secrets:read']);
      assert.equal(data.display_name, 'apikey-eso-static');
      assert.equal(data.accessor, '');
      // Authorization: Bearer works as X-Vault-Token does.
      const bearer = await request(server.url, 'GET', '/vault/v1/auth/token/lookup-self', {
        token: key,
        auth: 'bearer',
      });
      assert.equal(bearer.status, 200);
      // An admin key reports `*`.
      const admin = await vaultGet(server, 'auth/token/lookup-self', server.adminToken);
      assert.deepEqual((admin.json as { data: { policies: string[] } }).data.policies, ['*']);
    });
  });

  describe('the clients’ whole flow: log in, then read KV v2 with the issued token', () => {
    before(async () => {
      // Written as the Go client writes (PUT, no content type), with the bootstrap admin key.
      const put = await goClientWrite(
        server,
        'secret/data/ci/deploy',
        { data: { username: 'deployer', password: VALUE } },
        server.adminToken,
      );
      assert.equal(put.status, 200, put.text);
    });

    it('vault-action: POST auth/jwt/login, then GET v1/secret/data/… with X-Vault-Token; the selector reads data.data', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      // got, as vault-action configures it: prefixUrl + `v1/${path}`, X-Vault-Token, and the
      // X-Vault-Namespace header only when `namespace` is set.
      const res = await request(server.url, 'GET', '/vault/v1/secret/data/ci/deploy', {
        headers: {
          'X-Vault-Token': auth.client_token,
          'user-agent': 'got (https://github.com/sindresorhus/got)',
        },
      });
      assert.equal(res.status, 200, res.text);
      const body = res.json as { data: { data: Record<string, string> } };
      // secrets.js: `body.data["data"] != undefined` → selector `data.data.password`.
      assert.equal(body.data.data.password, VALUE);
      assert.equal(body.data.data.username, 'deployer');
      // Its post step (revokeToken: true) revokes the token; the read then fails.
      assert.equal(
        (
          await request(server.url, 'POST', '/vault/v1/auth/token/revoke-self', {
            headers: { 'X-Vault-Token': auth.client_token },
          })
        ).status,
        204,
      );
      assertVaultError(
        await request(server.url, 'GET', '/vault/v1/secret/data/ci/deploy', {
          headers: { 'X-Vault-Token': auth.client_token },
        }),
        403,
        /^permission denied$/,
      );
    });

    it('ESO (kubernetes auth): PUT login, lookup-self on each refresh, GET {mount}/data/{path} with the Go client’s headers', async () => {
      const jwt = await idp.mint({ sub: 'system:serviceaccount:eso:external-secrets', aud: K8S_AUDIENCE });
      const auth = authOf(await goClientWrite(server, 'auth/kubernetes/login', { role: 'eso', jwt }));
      // The Go client sends X-Vault-Request on every request, and X-Vault-Namespace when the
      // SecretStore names a namespace (here: the tenant).
      const headers = {
        'x-vault-token': auth.client_token,
        'x-vault-request': 'true',
        'x-vault-namespace': TENANT,
        'user-agent': 'Go-http-client/1.1',
      };
      for (let refresh = 0; refresh < 3; refresh++) {
        const check = await request(server.url, 'GET', '/vault/v1/auth/token/lookup-self', { headers });
        const data = (check.json as { data: { type: string; ttl: number; expire_time: string } }).data;
        assert.ok(data.type !== 'batch' && data.ttl >= 60 && data.expire_time !== null, 'checkToken: reuse');
        const read = await request(server.url, 'GET', '/vault/v1/secret/data/ci/deploy', { headers });
        assert.equal(read.status, 200, read.text);
        assert.equal((read.json as { data: { data: Record<string, string> } }).data.data.password, VALUE);
      }
      // A specific version, as `remoteRef.version` asks for it.
      const v1 = await request(server.url, 'GET', '/vault/v1/secret/data/ci/deploy?version=1', { headers });
      assert.equal(v1.status, 200, v1.text);
      // Another tenant's namespace: refused, whatever the token may do in its own.
      assertVaultError(
        await request(server.url, 'GET', '/vault/v1/secret/data/ci/deploy', {
          headers: { ...headers, 'x-vault-namespace': 'other-co' },
        }),
        403,
      );
      // Near its end (ttl < 60) checkToken logs in again: lookup-self must say so.
      clock.advance(550);
      const late = await request(server.url, 'GET', '/vault/v1/auth/token/lookup-self', { headers });
      assert.equal((late.json as { data: { ttl: number } }).data.ttl, 50);
      clock.advance(50);
      assertVaultError(await request(server.url, 'GET', '/vault/v1/secret/data/ci/deploy', { headers }), 403);
    });

    it('a token of the role’s permissions only: no write, no key management', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      assertVaultError(
        await goClientWrite(server, 'secret/data/ci/deploy', { data: { password: 'x' } }, auth.client_token),
        403,
        /^permission denied$/,
      );
      const keys = await request(server.url, 'GET', `/api/${TENANT}/admin/apiKeys`, {
        token: auth.client_token,
      });
      assert.equal(keys.status, 403);
    });
  });

  describe('renew-self', () => {
    it('extends within the max ttl (Vault Agent: PUT with increment), caps past it with Vault’s warning', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      const renewed = await goClientWrite(
        server,
        'auth/token/renew-self',
        { increment: 120 },
        auth.client_token,
      );
      const body = renewed.json as { auth: AuthBlock; warnings: string[] | null };
      assert.equal(renewed.status, 200, renewed.text);
      assert.equal(body.auth.lease_duration, 120);
      assert.equal(body.auth.client_token, auth.client_token);
      assert.equal(body.auth.accessor, auth.accessor);
      assert.equal(body.warnings, null);
      // The default increment is the role's ttl (1m); a duration string works too.
      const byDefault = await request(server.url, 'POST', '/vault/v1/auth/token/renew-self', {
        headers: { 'x-vault-token': auth.client_token },
      });
      assert.equal((byDefault.json as { auth: AuthBlock }).auth.lease_duration, 60, byDefault.text);
      const byString = await goClientWrite(
        server,
        'auth/token/renew-self',
        { increment: '2m' },
        auth.client_token,
      );
      assert.equal((byString.json as { auth: AuthBlock }).auth.lease_duration, 120);

      clock.advance(90); // past the first ttl; alive through renewal
      assert.equal((await vaultGet(server, 'auth/token/lookup-self', auth.client_token)).status, 200);
      const capped = await goClientWrite(
        server,
        'auth/token/renew-self',
        { increment: '1h' },
        auth.client_token,
      );
      const cappedBody = capped.json as { auth: AuthBlock; warnings: string[] };
      assert.equal(capped.status, 200, capped.text);
      assert.equal(cappedBody.auth.lease_duration, 300 - 90);
      assert.match(cappedBody.warnings[0] ?? '', /exceeded the effective max_ttl/);
      assert.equal(cappedBody.auth.renewable, false, 'at its max ttl: nothing left to renew');

      clock.advance(300 - 90);
      assert.deepEqual(await everyFacade(server, auth.client_token), ALL_REFUSE);
      assertVaultError(
        await goClientWrite(server, 'auth/token/renew-self', { increment: 60 }, auth.client_token),
        403,
        /^permission denied$/,
      );
    });

    it('answers an API key 400 "lease is not renewable" and changes nothing', async () => {
      const key = await server.createKey(TENANT, 'renew-me', ['secrets:read']);
      assertVaultError(
        await goClientWrite(server, 'auth/token/renew-self', { increment: 60 }, key),
        400,
        /^lease is not renewable: this is a Coffer API key/,
      );
      assert.equal((await vaultGet(server, 'auth/token/lookup-self', key)).status, 200);
    });

    it('refuses a bad increment as 400', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      for (const increment of [-1, '1d', 'soon', 1.5]) {
        assertVaultError(
          await goClientWrite(server, 'auth/token/renew-self', { increment }, auth.client_token),
          400,
        );
      }
    });
  });

  describe('expiry and revocation, on every facade', () => {
    it('an issued token is refused everywhere once its ttl has passed, cached or not', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      assert.deepEqual(await everyFacade(server, auth.client_token), ALL_ACCEPT); // now cached
      clock.advance(59);
      assert.deepEqual(await everyFacade(server, auth.client_token), ALL_ACCEPT);
      clock.advance(2);
      assert.deepEqual(await everyFacade(server, auth.client_token), ALL_REFUSE);
    });

    it('revoke-self (vault-action’s post step, PUT from the Go client) refuses the token from the next request on', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      assert.deepEqual(await everyFacade(server, auth.client_token), ALL_ACCEPT);
      const revoked = await goClientWrite(server, 'auth/token/revoke-self', {}, auth.client_token);
      assert.equal(revoked.status, 204, revoked.text);
      assert.equal(revoked.text, '');
      assert.deepEqual(await everyFacade(server, auth.client_token), ALL_REFUSE);
      assert.equal(await server.runtime.repository.getIssuedToken(auth.accessor), null);
      assertVaultError(
        await request(server.url, 'POST', '/vault/v1/auth/token/revoke-self', {
          headers: { 'x-vault-token': auth.client_token },
        }),
        403,
        /^permission denied$/,
      );
    });

    it('revoke-self leaves an API key alone: 400, and the key keeps working', async () => {
      const key = await server.createKey(TENANT, 'ci-cleanup', ['secrets:read']);
      assertVaultError(
        await request(server.url, 'POST', '/vault/v1/auth/token/revoke-self', {
          headers: { 'x-vault-token': key },
        }),
        400,
        /long-lived Coffer API key/,
      );
      assert.deepEqual(await everyFacade(server, key), ALL_ACCEPT);
      const stored = await server.runtime.repository.getApiKey(TENANT, 'ci-cleanup');
      assert.equal(stored?.enabled, true);
    });

    it('expired tokens are purged by later logins', async () => {
      const auth = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      clock.advance(301);
      authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      assert.equal(await server.runtime.repository.getIssuedToken(auth.accessor), null);
    });
  });

  describe('the token routes × every kind of caller', () => {
    const routes = [
      { method: 'GET', path: 'auth/token/lookup-self', ok: 200, keyAnswer: 200 },
      { method: 'POST', path: 'auth/token/lookup-self', ok: 200, keyAnswer: 200 },
      { method: 'POST', path: 'auth/token/renew-self', ok: 200, keyAnswer: 400 },
      { method: 'PUT', path: 'auth/token/renew-self', ok: 200, keyAnswer: 400 },
      { method: 'POST', path: 'auth/token/revoke-self', ok: 204, keyAnswer: 400 },
      { method: 'PUT', path: 'auth/token/revoke-self', ok: 204, keyAnswer: 400 },
    ] as const;

    it('refuses no, malformed, unknown, disabled, deleted, expired, revoked and service credentials with 403', async () => {
      const { core } = server.runtime;
      const disabled = await server.createKey(TENANT, 'matrix-disabled', ['*']);
      await core.apiKeys.update(OPERATOR, TENANT, 'matrix-disabled', { enabled: false });
      const deleted = await server.createKey(TENANT, 'matrix-deleted', ['*']);
      await core.apiKeys.delete(OPERATOR, TENANT, 'matrix-deleted');
      const expired = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      clock.advance(61);
      const revoked = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
      await request(server.url, 'POST', '/vault/v1/auth/token/revoke-self', {
        headers: { 'x-vault-token': revoked.client_token },
      });
      const service = await server.createService('vault-matrix-svc');
      const callers: Record<string, string | undefined> = {
        none: undefined,
        malformed: 'not-a-token',
        unknown: generateToken(),
        disabled,
        deleted,
        expired: expired.client_token,
        revoked: revoked.client_token,
        service,
      };
      for (const route of routes) {
        for (const [kind, token] of Object.entries(callers)) {
          const res = await request(server.url, route.method, `/vault/v1/${route.path}`, {
            headers: token === undefined ? {} : { 'x-vault-token': token },
          });
          assertVaultError(res, 403, /^permission denied$/);
          assert.ok(res.status === 403, `${route.method} ${route.path} as ${kind}`);
        }
      }
    });

    it('admits every tenant credential on itself, whatever its permissions and whatever namespace it names', async () => {
      const other = await server.createKey('other-co', 'admin', ['*']);
      for (const route of routes) {
        for (const permission of ['secrets:read', 'audit:read', 'apikeys:write']) {
          const key = await server.createKey(
            TENANT,
            `self-${route.method}-${route.path.split('/')[2]}-${permission.replace(':', '-')}`,
            [permission],
          );
          const res = await request(server.url, route.method, `/vault/v1/${route.path}`, {
            headers: { 'x-vault-token': key, 'x-vault-namespace': 'other-co' },
          });
          assert.equal(
            res.status,
            route.keyAnswer,
            `${route.method} ${route.path} with ${permission}: ${res.text}`,
          );
          if (route.keyAnswer === 400) assertVaultError(res, 400, /not renewable|long-lived Coffer API key/);
        }
        const issued = authOf(await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy'));
        const res = await request(server.url, route.method, `/vault/v1/${route.path}`, {
          headers: { 'x-vault-token': issued.client_token },
        });
        assert.equal(res.status, route.ok, `${route.method} ${route.path} with an issued token: ${res.text}`);
        // Another tenant's key describes itself, never this tenant.
        if (route.path.endsWith('lookup-self')) {
          const own = await request(server.url, route.method, `/vault/v1/${route.path}`, {
            headers: { 'x-vault-token': other, 'x-vault-namespace': TENANT },
          });
          assert.equal((own.json as { data: { coffer_tenant: string } }).data.coffer_tenant, 'other-co');
        }
      }
    });
  });
});

describe('Vault auth: a refused login counts against the address’s failed-authentication limit', () => {
  it('blocks the address after the limit, even for a valid JWT, with 429 and Retry-After', async () => {
    const idp = await startLocalIdentityProvider();
    const server = await startTestServer({
      env: { COFFER_JWT_AUTH: jwtAuth(idp), COFFER_AUTH_FAILURE_LIMIT: '3' },
    });
    try {
      const bad = await idp.mint(githubClaims({ repository: 'octo-org/other' }));
      for (let i = 0; i < 3; i++) assertVaultError(await vaultActionLogin(server, bad, 'deploy'), 400);
      const blocked = await vaultActionLogin(server, await idp.mint(githubClaims()), 'deploy');
      assertVaultError(blocked, 429, /blocked after too many failed authentications/);
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    } finally {
      await server.close();
      await idp.close();
    }
  });
});

describe('Vault auth: logins draw on the workload’s request budget (COFFER_KEY_RATE_LIMIT)', () => {
  it('a burst of logins by one workload is cut off with 429 and Retry-After', async () => {
    const idp = await startLocalIdentityProvider();
    const server = await startTestServer({
      env: { COFFER_JWT_AUTH: jwtAuth(idp), COFFER_KEY_RATE_LIMIT: '1' },
    });
    try {
      const jwt = await idp.mint(githubClaims());
      // Twenty at once against a budget of one per second: unless they take twenty seconds, some are cut.
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => vaultActionLogin(server, jwt, 'deploy')),
      );
      const statuses = answers.map((a) => a.status);
      assert.ok(statuses.includes(200), statuses.join(','));
      assert.ok(
        statuses.every((s) => s === 200 || s === 429),
        statuses.join(','),
      );
      const limited = answers.find((a) => a.status === 429);
      assert.ok(limited, statuses.join(','));
      assertVaultError(limited, 429);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      // Another workload has its own budget.
      const other = await idp.mint(githubClaims({ sub: 'repo:octo-org/app:ref:refs/heads/other' }));
      assert.equal((await vaultActionLogin(server, other, 'deploy')).status, 200);
    } finally {
      await server.close();
      await idp.close();
    }
  });
});

describe('Vault auth: revocation reaches every node', () => {
  it('a token revoked on one node is refused by another that had it cached', async () => {
    const idp = await startLocalIdentityProvider();
    const first = await startTestServer({ env: { COFFER_JWT_AUTH: jwtAuth(idp) } });
    const second = await startTestServer({
      ...(first.databaseUrl === null
        ? { dataDir: first.dataDir }
        : {
            env: {
              COFFER_DATABASE_URL: first.databaseUrl,
              COFFER_KEYRING_FILE: join(first.dataDir, 'keyring.json'),
            },
          }),
    });
    try {
      const auth = authOf(await vaultActionLogin(first, await idp.mint(githubClaims()), 'deploy'));
      assert.deepEqual(await everyFacade(second, auth.client_token), ALL_ACCEPT); // cached on node 2
      const revoked = await request(first.url, 'PUT', '/vault/v1/auth/token/revoke-self', {
        headers: { 'x-vault-token': auth.client_token },
      });
      assert.equal(revoked.status, 204);
      // PostgreSQL: the NOTIFY reaches node 2's listener a moment after COMMIT (generous wait).
      const deadline = Date.now() + 15_000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) {
        status = (await vaultGet(second, 'auth/token/lookup-self', auth.client_token)).status;
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 403);
      assert.deepEqual(await everyFacade(second, auth.client_token), ALL_REFUSE);
    } finally {
      await second.close({ keepData: true });
      await first.close();
      await idp.close();
    }
  });
});

describe('Vault auth through node-vault, unchanged', () => {
  it('jwtLogin and kubernetesLogin, then read, tokenLookupSelf, tokenRenewSelf and tokenRevokeSelf', async () => {
    const idp = await startLocalIdentityProvider();
    const server = await startTestServer({ env: { COFFER_JWT_AUTH: jwtAuth(idp) } });
    try {
      const admin = nodeVault({ endpoint: `${server.url}/vault`, token: server.adminToken });
      await admin.write('secret/data/ci/deploy', { data: { password: VALUE } });

      // jwtLogin sets the client's token from auth.client_token (tokenSource).
      const vault = nodeVault({ endpoint: `${server.url}/vault` });
      const login = (await vault.jwtLogin({ role: 'deploy', jwt: await idp.mint(githubClaims()) })) as {
        auth: AuthBlock;
      };
      assert.equal(vault.token, login.auth.client_token);
      const read = (await vault.read('secret/data/ci/deploy')) as { data: { data: Record<string, string> } };
      assert.equal(read.data.data.password, VALUE);
      const self = (await vault.tokenLookupSelf()) as { data: Record<string, unknown> };
      assert.deepEqual(self.data.policies, ['secrets:read', 'secrets:reveal']);
      assert.equal(self.data.id, login.auth.client_token);
      const renewed = (await vault.tokenRenewSelf({ increment: 120 })) as { auth: AuthBlock };
      assert.equal(renewed.auth.lease_duration, 120);
      await vault.tokenRevokeSelf();
      await assert.rejects(
        vault.read('secret/data/ci/deploy'),
        (error: { response?: { statusCode: number } }) => {
          assert.equal(error.response?.statusCode, 403);
          return true;
        },
      );

      // kubernetesLogin posts the same body to auth/<mount_point>/login (node-vault 0.12 leaves its
      // default mount out of the path: `/auth//login`, a 400; name the mount).
      const k8s = nodeVault({ endpoint: `${server.url}/vault` });
      const jwt = await idp.mint({ sub: 'system:serviceaccount:eso:external-secrets', aud: K8S_AUDIENCE });
      await k8s.kubernetesLogin({ role: 'eso', jwt, mount_point: 'kubernetes' });
      const k8sRead = (await k8s.read('secret/data/ci/deploy')) as { data: { data: Record<string, string> } };
      assert.equal(k8sRead.data.data.password, VALUE);

      // A refused login is node-vault's error with Vault's 400 body.
      const refused = nodeVault({ endpoint: `${server.url}/vault` });
      await assert.rejects(
        refused.jwtLogin({ role: 'deploy', jwt: await idp.mint(githubClaims({ repository: 'evil/fork' })) }),
        (error: { response?: { statusCode: number; body: { errors: string[] } } }) => {
          assert.equal(error.response?.statusCode, 400);
          assert.match(error.response?.body.errors[0] ?? '', /claim "repository" does not match/);
          return true;
        },
      );
    } finally {
      await server.close();
      await idp.close();
    }
  });
});

describe('Vault auth: an OIDC access token used directly', () => {
  it('looks itself up (its exp as expire_time) but neither renews nor revokes', async () => {
    const idp = await startLocalIdentityProvider();
    const server = await startTestServer({
      env: { COFFER_OIDC_ISSUER: idp.issuer, COFFER_OIDC_AUDIENCE: AUDIENCE },
    });
    try {
      const exp = Math.floor(Date.now() / 1000) + 1800;
      const jwt = await idp.mint({
        sub: 'user-1',
        coffer_tenant: TENANT,
        coffer_permissions: ['Secret.Read'],
        exp,
      });
      const res = await vaultGet(server, 'auth/token/lookup-self', jwt);
      assert.equal(res.status, 200, res.text);
      const data = (res.json as { data: Record<string, unknown> }).data;
      assert.equal(data.expire_time, new Date(exp * 1000).toISOString());
      assert.equal(typeof data.ttl, 'number');
      assert.ok((data.ttl as number) > 0);
      assert.equal(data.renewable, false);
      assert.deepEqual(data.policies, ['secrets:read', 'secrets:reveal']);
      assert.deepEqual(data.meta, {});
      assert.equal(data.path, 'oidc');
      assertVaultError(await goClientWrite(server, 'auth/token/renew-self', {}, jwt), 400, /not renewable/);
      assertVaultError(await goClientWrite(server, 'auth/token/revoke-self', {}, jwt), 400, /its own expiry/);
    } finally {
      await server.close();
      await idp.close();
    }
  });
});
