import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Cloudflare from 'cloudflare';
import { OPERATOR } from '../../src/core/actor.js';
import { generateToken } from '../../src/crypto/tokens.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { accountRoutes, type RouteCase, systemRoutes } from './cloudflare-routes-table.js';
import {
  accountPath,
  assertError,
  type Exchange,
  ExchangeLog,
  raw,
  sdkClient,
} from './cloudflare-test-kit.js';

const ACCOUNT = 'default';
const VALUES = [
  'auth-value-x1-93ad',
  'auth-value-managed-77fe',
  'sweep-value',
  'neostore-value-5b0c',
  'cf-made-e4d1',
];

describe('Cloudflare facade: authentication, permissions and isolation on every route', () => {
  let server: TestServer;
  const log = new ExchangeLog();
  let admin: Cloudflare;
  let storeId = '';
  let secretId = '';
  let managedStoreId = '';
  let managedSecretId = '';
  let serviceToken = '';

  const call = (route: RouteCase, headers: Record<string, string>): Promise<Exchange> =>
    raw(server, log, route.method, route.path, {
      headers,
      ...(route.body === undefined ? {} : { body: route.body }),
    });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    server = await startTestServer();
    admin = sdkClient(server, log, { apiToken: server.adminToken });
    storeId = (await admin.secretsStore.stores.create({ account_id: ACCOUNT, name: 'guarded' })).id;
    const [secret] = (
      await admin.secretsStore.stores.secrets.create(storeId, {
        account_id: ACCOUNT,
        body: [{ name: 'GUARDED', value: VALUES[0] ?? '', scopes: ['workers'] }],
      })
    ).result;
    secretId = secret?.id ?? '';
    serviceToken = await server.createService('svc-a');
    const managed = await raw(server, log, 'POST', `/system/accounts/${ACCOUNT}/stores`, {
      token: serviceToken,
      body: { account_id: 1, name: 'managed' },
    });
    managedStoreId = (managed.body.result as { id: string }).id;
    const managedSecret = await raw(
      server,
      log,
      'POST',
      `/system/accounts/${ACCOUNT}/stores/${managedStoreId}/secrets`,
      {
        token: serviceToken,
        body: [{ name: 'MANAGED', value: VALUES[1], scopes: ['workers'] }],
      },
    );
    managedSecretId = (managedSecret.body.result as { id: string }[])[0]?.id ?? '';
  });

  after(async () => {
    log.assertNoneContains(VALUES);
    await server.close();
  });

  async function assertUntouched(): Promise<void> {
    const stores = (await server.runtime.core.stores.list(OPERATOR, ACCOUNT)).map((s) => s.name).sort();
    assert.deepEqual(stores, ['guarded', 'managed']);
    const secret = await server.runtime.repository.getSecretById(storeId, secretId);
    assert.equal(secret?.description ?? '', '');
    assert.deepEqual(secret?.scopes, ['workers']);
    assert.equal(await server.runtime.repository.countSecretsInTenant(ACCOUNT), 2);
  }

  test('no credential, a bad token, a half global-key pair: 401 on all 23 routes', async () => {
    const routes = [
      ...accountRoutes(ACCOUNT, storeId, secretId),
      ...systemRoutes(ACCOUNT, managedStoreId, managedSecretId),
    ];
    assert.equal(routes.length, 23);
    for (const route of routes) {
      const none = await call(route, {});
      assertError(none, 401, 'authentication_required');
      assert.equal(none.body.errors[0]?.code, 1100);
      assertError(await call(route, { authorization: 'Basic Zm9vOmJhcg==' }), 401, 'authentication_required');
      assertError(await call(route, bearer('not-a-token')), 401, 'invalid_credentials');
      assertError(await call(route, bearer(generateToken())), 401, 'invalid_credentials');
      assertError(await call(route, { 'x-auth-key': server.adminToken }), 401, 'invalid_credentials');
      assertError(
        await call(route, { 'x-auth-key': server.adminToken, 'x-auth-email': ' ' }),
        401,
        'invalid_credentials',
      );
    }
    await assertUntouched();
  });

  test('a disabled key stops working at once', async () => {
    const token = await server.createKey(ACCOUNT, 'soon-disabled', ['Secrets Store Write']);
    const route = accountRoutes(ACCOUNT, storeId, secretId)[1];
    assert.ok(route);
    assert.equal((await call(route, bearer(token))).status, 200);
    await server.runtime.core.apiKeys.update(OPERATOR, ACCOUNT, 'soon-disabled', { enabled: false });
    assertError(await call(route, bearer(token)), 401, 'invalid_credentials');
  });

  test('the global-key pair (X-Auth-Email + X-Auth-Key) is accepted like a bearer token', async () => {
    const res = await raw(server, log, 'GET', accountPath(ACCOUNT, '/stores'), {
      headers: { 'x-auth-email': 'ops@example.com', 'x-auth-key': server.adminToken },
    });
    assert.equal(res.status, 200);
  });

  test('Secrets Store Read reads and gets 403 on every write; Secrets Store Write does both', async () => {
    const reader = await server.createKey(ACCOUNT, 'reader', ['Secrets Store Read']);
    const writer = await server.createKey(ACCOUNT, 'writer', ['Secrets Store Write']);
    for (const route of accountRoutes(ACCOUNT, storeId, secretId)) {
      if (route.write) {
        const res = await call(route, bearer(reader));
        assertError(res, 403, 'missing_permission');
        assert.equal(res.body.errors[0]?.code, 1102);
      } else {
        assert.equal((await call(route, bearer(reader))).status, 200, `${route.method} ${route.path}`);
        assert.equal((await call(route, bearer(writer))).status, 200, `${route.method} ${route.path}`);
      }
    }
    await assertUntouched();
    const viaSdk = sdkClient(server, log, { apiToken: writer });
    const edited = await viaSdk.secretsStore.stores.secrets.edit(secretId, {
      account_id: ACCOUNT,
      store_id: storeId,
      comment: 'by writer',
    });
    assert.equal(edited.comment, 'by writer');
    await viaSdk.secretsStore.stores.secrets.edit(secretId, {
      account_id: ACCOUNT,
      store_id: storeId,
      comment: '',
    });
  });

  test("another tenant's token: 404 on every account route of this account, whatever its permissions", async () => {
    const acmeAdmin = await server.createKey('acme', 'admin', ['*']);
    const acmeReader = await server.createKey('acme', 'reader', ['Secrets Store Read']);
    for (const token of [acmeAdmin, acmeReader]) {
      for (const route of accountRoutes(ACCOUNT, storeId, secretId)) {
        const res = await call(route, bearer(token));
        assertError(res, 404, 'account_not_found');
        assert.ok(!res.text.includes('guarded') && !res.text.includes('GUARDED'));
      }
    }
    // And this account's store addressed under the other account's own id.
    for (const route of accountRoutes('acme', storeId, secretId).filter((r) => r.path.includes(storeId))) {
      assertError(await call(route, bearer(acmeAdmin)), 404, 'store_not_found');
    }
    await assertUntouched();
  });

  test('a service credential on account routes is 403 credential_not_allowed', async () => {
    for (const route of accountRoutes(ACCOUNT, managedStoreId, managedSecretId)) {
      const res = await call(route, bearer(serviceToken));
      assertError(res, 403, 'credential_not_allowed');
      assert.equal(res.body.errors[0]?.code, 1103);
    }
    await assertUntouched();
  });

  test('a tenant token on system routes is 403 credential_not_allowed, even the admin key', async () => {
    const reader = await server.createKey(ACCOUNT, 'reader2', ['Secrets Store Read']);
    for (const token of [server.adminToken, reader]) {
      for (const route of systemRoutes(ACCOUNT, managedStoreId, managedSecretId)) {
        assertError(await call(route, bearer(token)), 403, 'credential_not_allowed');
      }
    }
    await assertUntouched();
  });

  test("a service's managed store does not exist for account routes", async () => {
    const list = await raw(server, log, 'GET', accountPath(ACCOUNT, '/stores'), { token: server.adminToken });
    assert.deepEqual(
      (list.body.result as { name: string }[]).map((s) => s.name),
      ['guarded'],
    );
    const routes = accountRoutes(ACCOUNT, managedStoreId, managedSecretId).filter((r) =>
      r.path.includes(managedStoreId),
    );
    assert.equal(routes.length, 9);
    for (const route of routes) {
      assertError(await call(route, bearer(server.adminToken)), 404, 'store_not_found');
    }
    await assertUntouched();
  });
});

describe('Cloudflare facade and Neostore share the store named default', () => {
  let server: TestServer;
  const log = new ExchangeLog();

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    log.assertNoneContains(VALUES);
    await server.close();
  });

  test('a Neostore secret is listed here; a secret created here is readable through Neostore', async () => {
    const neostore = (method: string, key: string, body?: unknown) =>
      fetch(`${server.url}/api/${ACCOUNT}/secrets/${key}`, {
        method,
        headers: {
          'x-api-key': server.adminToken,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    assert.equal((await neostore('PUT', 'db-password', { value: VALUES[3] })).status, 204);

    const cf = sdkClient(server, log, { apiToken: server.adminToken });
    const stores = [];
    for await (const s of cf.secretsStore.stores.list({ account_id: ACCOUNT })) stores.push(s);
    assert.deepEqual(
      stores.map((s) => s.name),
      ['default'],
    );
    const defaultStore = stores[0];
    assert.ok(defaultStore);
    const secrets = await cf.secretsStore.stores.secrets.list(defaultStore.id, { account_id: ACCOUNT });
    assert.equal(secrets.result.length, 1);
    assert.equal(secrets.result[0]?.name, 'db-password');
    assert.equal(secrets.result[0]?.status, 'active');
    assert.deepEqual(secrets.result[0]?.scopes, []);
    assert.equal(secrets.result[0]?.comment, '');

    await cf.secretsStore.stores.secrets.create(defaultStore.id, {
      account_id: ACCOUNT,
      body: [{ name: 'CF_MADE', value: VALUES[4] ?? '', scopes: ['workers'] }],
    });
    const read = await neostore('GET', 'CF_MADE');
    assert.equal(read.status, 200);
    assert.equal(await read.text(), VALUES[4]);

    const dup = await cf.secretsStore.stores.secrets.duplicate(secrets.result[0]?.id ?? '', {
      account_id: ACCOUNT,
      store_id: defaultStore.id,
      name: 'db-password-copy',
      scopes: ['workers'],
    });
    assert.equal(dup.status, 'active');
    assert.equal(await (await neostore('GET', 'db-password-copy')).text(), VALUES[3]);

    const taken = await raw(server, log, 'POST', accountPath(ACCOUNT, '/stores'), {
      token: server.adminToken,
      body: { name: 'default' },
    });
    assertError(taken, 409, 'store_name_taken');
  });
});
