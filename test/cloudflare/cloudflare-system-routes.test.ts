import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { eventsDuring, summary } from '../audit/audit-events.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { systemRoutes } from './cloudflare-routes-table.js';
import {
  accountPath,
  assertError,
  type Exchange,
  ExchangeLog,
  raw,
  systemPath,
} from './cloudflare-test-kit.js';

const TENANT = 'acme';
const VALUES = ['sys-value-one-a81f', 'sys-value-two-0c3e', 'sys-rotated-77aa', 'sweep-value'];

interface StoreResult {
  id: string;
  name: string;
  account_id: string;
  created: string;
  modified: string;
}
interface SecretResult {
  id: string;
  name: string;
  store_id: string;
  status: string;
  scopes: string[];
  comment: string;
}

describe('Cloudflare system routes: stores managed by the calling service', () => {
  let server: TestServer;
  const log = new ExchangeLog();
  let serviceA = '';
  let serviceB = '';
  let tenantToken = '';
  let storeA = '';
  let secretOne = '';
  let secretTwo = '';

  const as = (token: string, method: string, path: string, body?: unknown): Promise<Exchange> =>
    raw(server, log, method, systemPath(TENANT, path), { token, ...(body === undefined ? {} : { body }) });

  before(async () => {
    server = await startTestServer();
    // A service works in tenants that exist; it never creates one (docs/adr/0007-service-credentials.md).
    tenantToken = await server.createKey(TENANT, 'admin', ['*']);
    serviceA = await server.createService('svc-a');
    serviceB = await server.createService('svc-b');
  });

  after(async () => {
    log.assertNoneContains(VALUES);
    await server.close();
  });

  test('create store: {account_id, name} → a store of the path’s account, managed by the caller', async () => {
    const res = await as(serviceA, 'POST', '', { account_id: 123456, name: 'svc_a_keys' });
    assert.equal(res.status, 200);
    const store = res.body.result as StoreResult;
    assert.match(store.id, /^[0-9a-f]{32}$/);
    assert.equal(store.name, 'svc_a_keys');
    assert.equal(store.account_id, TENANT);
    storeA = store.id;
    const record = await server.runtime.repository.getStoreById(TENANT, store.id);
    assert.equal(record?.managedBy, 'svc-a');

    assertError(await as(serviceA, 'POST', '', { name: 'no-account' }), 400, 'validation_error');
    assertError(await as(serviceA, 'POST', '', [{ account_id: 1, name: 'array' }]), 400, 'validation_error');
    assertError(await as(serviceA, 'POST', '', { account_id: 1.5, name: 'x' }), 400, 'validation_error');
    assertError(
      await as(serviceA, 'POST', '', { account_id: 1, name: 'svc_a_keys' }),
      409,
      'store_name_taken',
    );
    // The same name under another manager is another store.
    assert.equal((await as(serviceB, 'POST', '', { account_id: 123456, name: 'svc_a_keys' })).status, 200);
    const invalidTenant = await raw(server, log, 'POST', systemPath('bad tenant'), {
      token: serviceA,
      body: { account_id: 1, name: 'x' },
    });
    assertError(invalidTenant, 400, 'invalid_request');
  });

  test('list and get stores: only the caller’s own', async () => {
    await raw(server, log, 'POST', accountPath(TENANT, '/stores'), {
      token: tenantToken,
      body: { name: 'tenant-own' },
    });

    const listA = await as(serviceA, 'GET', '');
    assert.deepEqual(
      (listA.body.result as StoreResult[]).map((s) => s.id),
      [storeA],
    );
    assert.deepEqual(listA.body.result_info, { count: 1, page: 1, per_page: 20, total_count: 1 });
    const listB = await as(serviceB, 'GET', '?order=name&direction=desc&per_page=5');
    assert.equal((listB.body.result as StoreResult[]).length, 1);
    assert.notEqual((listB.body.result as StoreResult[])[0]?.id, storeA);
    assert.deepEqual((await as(serviceA, 'GET', '?page=2')).body.result, []);

    assert.equal(((await as(serviceA, 'GET', `/${storeA}`)).body.result as StoreResult).id, storeA);
    assertError(await as(serviceB, 'GET', `/${storeA}`), 404, 'store_not_found');
    const own = (await server.runtime.core.stores.list(OPERATOR, TENANT)).find(
      (s) => s.name === 'tenant-own',
    );
    assert.ok(own);
    assertError(await as(serviceA, 'GET', `/${own.id}`), 404, 'store_not_found');
    assertError(await as(serviceA, 'GET', `/${own.id}/secrets`), 404, 'store_not_found');

    const accountList = await raw(server, log, 'GET', accountPath(TENANT, '/stores'), { token: tenantToken });
    assert.deepEqual(
      (accountList.body.result as StoreResult[]).map((s) => s.name),
      ['tenant-own'],
    );
    assertError(
      await raw(server, log, 'GET', accountPath(TENANT, `/stores/${storeA}`), { token: tenantToken }),
      404,
      'store_not_found',
    );
  });

  test('secrets: create, list, get, patch, duplicate', async () => {
    const created = await as(serviceA, 'POST', `/${storeA}/secrets`, [
      { name: 'ONE', value: VALUES[0], scopes: ['workers'], comment: 'first' },
      { name: 'TWO', value: VALUES[1], scopes: ['ai_gateway'] },
    ]);
    assert.equal(created.status, 200);
    const [one, two] = created.body.result as SecretResult[];
    assert.ok(one && two);
    assert.equal(one.store_id, storeA);
    assert.equal(one.status, 'active');
    assert.equal(two.comment, '');
    secretOne = one.id;
    secretTwo = two.id;
    assertError(
      await as(serviceA, 'POST', `/${storeA}/secrets`, { name: 'X', value: 'v' }),
      400,
      'validation_error',
    );

    const list = await as(serviceA, 'GET', `/${storeA}/secrets?scopes=ai_gateway`);
    assert.deepEqual(
      (list.body.result as SecretResult[]).map((s) => s.name),
      ['TWO'],
    );
    const search = await as(serviceA, 'GET', `/${storeA}/secrets?search=FIRST&order=name&direction=desc`);
    assert.deepEqual(
      (search.body.result as SecretResult[]).map((s) => s.name),
      ['ONE'],
    );
    assert.equal(
      ((await as(serviceA, 'GET', `/${storeA}/secrets/${secretOne}`)).body.result as SecretResult).name,
      'ONE',
    );

    const patched = await as(serviceA, 'PATCH', `/${storeA}/secrets/${secretOne}`, {
      comment: 'patched',
      value: VALUES[2],
    });
    assert.equal(patched.status, 200);
    assert.equal((patched.body.result as SecretResult).comment, 'patched');
    const versions = await server.runtime.repository.listVersions(secretOne);
    assert.deepEqual(
      versions.map((v) => v.version),
      [1, 2],
      'the value became a new version',
    );

    const dup = await as(serviceA, 'POST', `/${storeA}/secrets/${secretOne}/duplicate`, {
      name: 'ONE_COPY',
      scopes: ['dex'],
    });
    assert.equal(dup.status, 200);
    assert.equal((dup.body.result as SecretResult).comment, 'patched');
    assert.equal((dup.body.result as SecretResult).store_id, storeA);
  });

  test('another service: 404 on every route that addresses the store, and nothing changes', async () => {
    const routes = systemRoutes(TENANT, storeA, secretOne).filter((r) => r.path.includes(storeA));
    assert.equal(routes.length, 9);
    for (const route of routes) {
      const res = await raw(server, log, route.method, route.path, {
        token: serviceB,
        ...(route.body === undefined ? {} : { body: route.body }),
      });
      assertError(res, 404, 'store_not_found');
      assert.ok(!res.text.includes('ONE') && !res.text.includes('svc_a_keys'));
    }
    const names = (
      (await as(serviceA, 'GET', `/${storeA}/secrets?order=name`)).body.result as SecretResult[]
    ).map((s) => s.name);
    assert.deepEqual(names, ['ONE', 'ONE_COPY', 'TWO']);
  });

  test('deletes answer 200 with what was deleted: one secret, several (both body shapes), the store', async () => {
    const one = await as(serviceA, 'DELETE', `/${storeA}/secrets/${secretTwo}`);
    assert.equal(one.status, 200);
    assert.equal((one.body.result as SecretResult).id, secretTwo);
    assert.equal((one.body.result as SecretResult).status, 'deleted');
    assertError(await as(serviceA, 'GET', `/${storeA}/secrets/${secretTwo}`), 404, 'secret_not_found');

    const copy = (
      (await as(serviceA, 'GET', `/${storeA}/secrets?search=COPY`)).body.result as SecretResult[]
    )[0];
    assert.ok(copy);
    assertError(await as(serviceA, 'DELETE', `/${storeA}/secrets`), 400, 'validation_error');
    const bulk = await as(serviceA, 'DELETE', `/${storeA}/secrets`, [{ id: copy.id }]);
    assert.equal(bulk.status, 200);
    assert.deepEqual(
      (bulk.body.result as SecretResult[]).map((s) => [s.id, s.status]),
      [[copy.id, 'deleted']],
    );

    assertError(await as(serviceA, 'DELETE', `/${storeA}`), 409, 'store_not_empty');
    const bulkIds = await as(serviceA, 'DELETE', `/${storeA}/secrets`, { ids: [secretOne] });
    assert.equal(bulkIds.status, 200);
    assert.equal((bulkIds.body.result as SecretResult[]).length, 1);

    const gone = await as(serviceA, 'DELETE', `/${storeA}`);
    assert.equal(gone.status, 200);
    assert.equal((gone.body.result as StoreResult).id, storeA);
    assertError(await as(serviceA, 'GET', `/${storeA}`), 404, 'store_not_found');
    assert.ok(log.exchanges.every((e) => e.status !== 204));
  });

  test('a delete that answers what it deleted is one operation: one event per secret or store, no reads', async () => {
    const store = (await as(serviceA, 'POST', '', { account_id: 1, name: 'audited' })).body
      .result as StoreResult;
    const created = (
      await as(serviceA, 'POST', `/${store.id}/secrets`, [
        { name: 'A', value: VALUES[3], scopes: ['workers'] },
        { name: 'B', value: VALUES[3], scopes: ['workers'] },
        { name: 'C', value: VALUES[3], scopes: ['workers'] },
      ])
    ).body.result as SecretResult[];
    const [a, b, c] = created.map((s) => s.id);
    const s = `store-id:${store.id}`;
    const events = await eventsDuring(server, TENANT, async () => {
      assert.equal((await as(serviceA, 'DELETE', `/${store.id}/secrets/${a}`)).status, 200);
      assert.equal((await as(serviceA, 'DELETE', `/${store.id}/secrets`, { ids: [b, c] })).status, 200);
      assert.equal((await as(serviceA, 'DELETE', `/${store.id}`)).status, 200);
    });
    assert.deepEqual(summary(events), [
      `secret.delete ${s}/secret-id:${a} allowed`,
      `secret.delete ${s}/secret-id:${b} allowed`,
      `secret.delete ${s}/secret-id:${c} allowed`,
      `store.delete ${s} allowed`,
    ]);
  });

  test('force delete cascades; a disabled service is refused at once', async () => {
    const store = (await as(serviceA, 'POST', '', { account_id: 1, name: 'forced' })).body
      .result as StoreResult;
    await as(serviceA, 'POST', `/${store.id}/secrets`, [
      { name: 'F', value: VALUES[0], scopes: ['workers'] },
    ]);
    assert.equal((await as(serviceA, 'DELETE', `/${store.id}?force=true`)).status, 200);
    assert.equal(await server.runtime.repository.getStoreById(TENANT, store.id), null);

    await server.runtime.core.services.setEnabled(OPERATOR, 'svc-b', false);
    assertError(await as(serviceB, 'GET', ''), 401, 'invalid_credentials');
  });
});
