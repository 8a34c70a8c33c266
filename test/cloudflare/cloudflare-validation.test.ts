import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Cloudflare from 'cloudflare';
import { CLOUDFLARE_ERRORS } from '../../src/http/cloudflare/cloudflare-errors.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { accountPath, assertError, ExchangeLog, raw, sdkClient, sdkRejects } from './cloudflare-test-kit.js';

const ACCOUNT = 'default';
const SECRET_VALUE = 'validation-secret-value-1c9a';

describe('Cloudflare facade: request validation', () => {
  let server: TestServer;
  const log = new ExchangeLog();
  let cf: Cloudflare;
  let storeId = '';
  let secretId = '';

  const post = (path: string, body: unknown) =>
    raw(server, log, 'POST', accountPath(ACCOUNT, path), { token: server.adminToken, body });
  const patch = (body: unknown) =>
    raw(server, log, 'PATCH', accountPath(ACCOUNT, `/stores/${storeId}/secrets/${secretId}`), {
      token: server.adminToken,
      body,
    });
  const get = (path: string) =>
    raw(server, log, 'GET', accountPath(ACCOUNT, path), { token: server.adminToken });

  before(async () => {
    server = await startTestServer();
    cf = sdkClient(server, log, { apiToken: server.adminToken });
    storeId = (await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'v' })).id;
    const [s] = (
      await cf.secretsStore.stores.secrets.create(storeId, {
        account_id: ACCOUNT,
        body: [{ name: 'EXISTING', value: SECRET_VALUE, scopes: ['workers'] }],
      })
    ).result;
    secretId = s?.id ?? '';
  });

  after(async () => {
    log.assertNoneContains([SECRET_VALUE, 'x'.repeat(1000)]);
    await server.close();
  });

  test('secret create: each missing or wrong field is 400 validation_error pointing at it', async () => {
    const ok = { name: 'OK_NAME', value: 'v', scopes: ['workers'] };
    const cases: [unknown, string][] = [
      [[{ name: 'A', value: 'v' }], '/0/scopes'],
      [[{ name: 'A', scopes: ['workers'] }], '/0/value'],
      [[{ value: 'v', scopes: ['workers'] }], '/0/name'],
      [[{ ...ok, scopes: ['workerz'] }], '/0/scopes/0'],
      [[{ ...ok, scopes: ['ai-gateway'] }], '/0/scopes/0'],
      [[{ ...ok, scopes: [] }], '/0/scopes'],
      [[{ ...ok, scopes: 'workers' }], '/0/scopes'],
      [[{ ...ok, name: 'has space' }], '/0/name'],
      [[{ ...ok, name: 'dot.name' }], '/0/name'],
      [[{ ...ok, name: '' }], '/0/name'],
      [[{ ...ok, name: 'N'.repeat(128) }], '/0/name'],
      [[{ ...ok, value: 42 }], '/0/value'],
      [[{ ...ok, comment: 7 }], '/0/comment'],
      [[{ ...ok, comment: 'c'.repeat(1025) }], '/0/comment'],
      [[{ ...ok, extra: true }], '/0/extra'],
      [[ok, { ...ok, name: 'B', scopes: ['nope'] }], '/1/scopes/0'],
      [ok, ''],
      [[], ''],
      ['text', ''],
      [Array.from({ length: 101 }, (_, i) => ({ ...ok, name: `N${i}` })), ''],
    ];
    for (const [body, pointer] of cases) {
      const res = await post(`/stores/${storeId}/secrets`, body);
      assertError(res, 400, 'validation_error');
      assert.equal(res.body.errors[0]?.code, CLOUDFLARE_ERRORS.validation_error.code);
      assert.ok(
        res.body.errors.some((e) => e.source?.pointer === pointer),
        `${JSON.stringify(body).slice(0, 80)}: expected pointer ${pointer} in ${res.text}`,
      );
    }
    const names = (await cf.secretsStore.stores.secrets.list(storeId, { account_id: ACCOUNT })).result;
    assert.deepEqual(
      names.map((s) => s.name),
      ['EXISTING'],
      'nothing was created',
    );
  });

  test('secret create through the SDK: BadRequestError for missing scopes, unknown scope, object body', async () => {
    const create = (body: unknown) =>
      cf.secretsStore.stores.secrets.create(storeId, {
        account_id: ACCOUNT,
        body: body as Cloudflare.SecretsStore.Stores.SecretCreateParams['body'],
      });
    await sdkRejects(create([{ name: 'A', value: 'v' }]), 400, 'validation_error');
    await sdkRejects(create([{ name: 'A', scopes: ['workers'] }]), 400, 'validation_error');
    await sdkRejects(create([{ name: 'A', value: 'v', scopes: ['unknown'] }]), 400, 'validation_error');
    await sdkRejects(create({ name: 'A', value: 'v', scopes: ['workers'] }), 400, 'validation_error');
  });

  test('value size: exactly 65,536 bytes is accepted, 65,537 is 400 code 1001 secret_value_too_long', async () => {
    const create = (name: string, value: string) =>
      cf.secretsStore.stores.secrets.create(storeId, {
        account_id: ACCOUNT,
        body: [{ name, value, scopes: ['workers'] }],
      });
    const atLimit = await create('AT_LIMIT', 'x'.repeat(65_536));
    assert.equal(atLimit.result[0]?.status, 'active');
    // Bytes, not characters: 32,768 two-byte characters fit, one more byte does not.
    await create('AT_LIMIT_UTF8', 'é'.repeat(32_768));
    const over = await sdkRejects(create('OVER', 'x'.repeat(65_537)), 400, 'secret_value_too_long');
    assert.equal(over.errors[0]?.code, 1001);
    const overUtf8 = await sdkRejects(create('OVER_UTF8', `${'é'.repeat(32_768)}x`), 400);
    assert.equal(overUtf8.errors[0]?.code, 1001);
    const patched = await sdkRejects(
      cf.secretsStore.stores.secrets.edit(secretId, {
        account_id: ACCOUNT,
        store_id: storeId,
        value: 'y'.repeat(65_537),
      }),
      400,
      'secret_value_too_long',
    );
    assert.equal(patched.errors[0]?.code, 1001);
    await cf.secretsStore.stores.secrets.edit(secretId, {
      account_id: ACCOUNT,
      store_id: storeId,
      value: 'y'.repeat(65_536),
    });
    // A value written with JSON escapes is still measured in bytes once decoded.
    const escaped = await raw(server, log, 'POST', accountPath(ACCOUNT, `/stores/${storeId}/secrets`), {
      token: server.adminToken,
      rawBody: `[{"name":"ESCAPED","scopes":["workers"],"value":"${'\\u0078'.repeat(65_536)}"}]`,
    });
    assert.equal(escaped.status, 200);
  });

  test('names: 1-127 of [A-Za-z0-9_-], unique per store (409, no retry), twice in one batch 409', async () => {
    const res = await post(`/stores/${storeId}/secrets`, [
      { name: 'N'.repeat(127), value: 'v', scopes: ['dex'] },
    ]);
    assert.equal(res.status, 200);
    const taken = await post(`/stores/${storeId}/secrets`, [
      { name: 'EXISTING', value: 'v', scopes: ['dex'] },
    ]);
    assertError(taken, 409, 'secret_name_taken');
    assert.equal(taken.headers.get('x-should-retry'), 'false');
    const twice = await post(`/stores/${storeId}/secrets`, [
      { name: 'TWICE', value: 'v', scopes: ['dex'] },
      { name: 'TWICE', value: 'w', scopes: ['dex'] },
    ]);
    assertError(twice, 409, 'secret_name_taken');
    const partial = await post(`/stores/${storeId}/secrets`, [
      { name: 'FRESH', value: 'v', scopes: ['dex'] },
      { name: 'EXISTING', value: 'w', scopes: ['dex'] },
    ]);
    assertError(partial, 409, 'secret_name_taken');
    const fresh = await get(`/stores/${storeId}/secrets?search=FRESH`);
    assert.deepEqual(fresh.body.result, [], 'all or none');
    // The same name in another store is fine.
    const other = (await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'v2' })).id;
    assert.equal(
      (await post(`/stores/${other}/secrets`, [{ name: 'EXISTING', value: 'v', scopes: ['dex'] }])).status,
      200,
    );
  });

  test('patch: empty, unknown field, bad scope are 400; unknown secret 404', async () => {
    assertError(await patch({}), 400, 'validation_error');
    assertError(await patch({ name: 'RENAME' }), 400, 'validation_error');
    assertError(await patch({ scopes: ['nope'] }), 400, 'validation_error');
    assertError(await patch({ scopes: [] }), 400, 'validation_error');
    assertError(await patch({ comment: null }), 400, 'validation_error');
    assertError(await patch([]), 400, 'validation_error');
    const unknown = await raw(
      server,
      log,
      'PATCH',
      accountPath(ACCOUNT, `/stores/${storeId}/secrets/ffffffffffffffffffffffffffffffff`),
      { token: server.adminToken, body: { comment: 'x' } },
    );
    assertError(unknown, 404, 'secret_not_found');
  });

  test('duplicate: name and scopes required, a taken name is 409, an unknown source 404', async () => {
    const dup = (body: unknown, id = secretId) => post(`/stores/${storeId}/secrets/${id}/duplicate`, body);
    assertError(await dup({ scopes: ['workers'] }), 400, 'validation_error');
    assertError(await dup({ name: 'COPY' }), 400, 'validation_error');
    assertError(await dup({ name: 'COPY', scopes: ['bad'] }), 400, 'validation_error');
    assertError(await dup({ name: 'bad name', scopes: ['workers'] }), 400, 'validation_error');
    assertError(await dup({ name: 'EXISTING', scopes: ['workers'] }), 409, 'secret_name_taken');
    assertError(
      await dup({ name: 'COPY', scopes: ['workers'] }, 'ffffffffffffffffffffffffffffffff'),
      404,
      'secret_not_found',
    );
  });

  test('store create: name required, names Coffer refuses are 400 invalid_store_name, a taken name 409', async () => {
    assertError(await post('/stores', {}), 400, 'validation_error');
    assertError(await post('/stores', { name: 5 }), 400, 'validation_error');
    assertError(await post('/stores', { name: '' }), 400, 'validation_error');
    assertError(await post('/stores', { name: 'a', other: 1 }), 400, 'validation_error');
    assertError(await post('/stores', []), 400, 'validation_error');
    for (const name of ['_leading', 'has space', 'trailing/', 'a//b', 'ünï']) {
      const res = await post('/stores', { name });
      assertError(res, 400, 'invalid_store_name');
      assert.equal(res.body.errors[0]?.code, 1005);
      assert.equal(res.body.errors[0]?.source?.pointer, '/name');
    }
    for (const name of ['service_x_keys', 'with-dash', 'with.dot', 'proj/env', 'X'.repeat(255)]) {
      assert.equal((await post('/stores', { name })).status, 200, name);
    }
    const taken = await post('/stores', { name: 'service_x_keys' });
    assertError(taken, 409, 'store_name_taken');
    assert.equal(taken.headers.get('x-should-retry'), 'false');
    const arrayTaken = await post('/stores', [{ name: 'service_x_keys' }]);
    assertError(arrayTaken, 409, 'store_name_taken');
  });

  test('lists: page, per_page, order, direction and scopes are checked', async () => {
    for (const q of [
      'per_page=101',
      'per_page=0',
      'per_page=abc',
      'page=-1',
      'page=1.5',
      'order=size',
      'direction=up',
    ]) {
      assertError(await get(`/stores?${q}`), 400, 'validation_error');
      assertError(await get(`/stores/${storeId}/secrets?${q}`), 400, 'validation_error');
    }
    assertError(await get('/stores?order=comment'), 400, 'validation_error');
    assertError(await get(`/stores/${storeId}/secrets?scopes=workerz`), 400, 'validation_error');
    assertError(await get(`/stores/${storeId}/secrets?scopes=workers,`), 400, 'validation_error');
    assertError(await get(`/stores/${storeId}/secrets?search=${'s'.repeat(257)}`), 400, 'validation_error');
    const page0 = await get('/stores?page=0&per_page=100');
    assert.equal(page0.status, 200);
    assert.equal(page0.body.result_info?.page, 1, 'page 0 is the first page');
    assert.equal((await get(`/stores/${storeId}/secrets?order=status&direction=desc`)).status, 200);
    assert.equal((await get(`/stores/${storeId}/secrets?order=comment`)).status, 200);
  });

  test('bulk delete: missing body, empty ids and wrong shapes are 400; nothing is deleted', async () => {
    const del = (options: { body?: unknown; rawBody?: string }) =>
      raw(server, log, 'DELETE', accountPath(ACCOUNT, `/stores/${storeId}/secrets`), {
        token: server.adminToken,
        ...options,
      });
    assertError(await del({}), 400, 'validation_error');
    assertError(await del({ body: { ids: [] } }), 400, 'validation_error');
    assertError(await del({ body: [] }), 400, 'validation_error');
    assertError(await del({ body: { secret_ids: [secretId] } }), 400, 'validation_error');
    assertError(await del({ body: { ids: [42] } }), 400, 'validation_error');
    assertError(await del({ body: { ids: ['f'.repeat(33)] } }), 400, 'validation_error');
    assertError(await del({ rawBody: '' }), 400, 'malformed_body');
    const still = await cf.secretsStore.stores.secrets.get(secretId, {
      account_id: ACCOUNT,
      store_id: storeId,
    });
    assert.equal(still.id, secretId);
  });

  test('store delete: force must be a boolean; ids over 32 characters are 400', async () => {
    const res = await raw(server, log, 'DELETE', accountPath(ACCOUNT, `/stores/${storeId}?force=maybe`), {
      token: server.adminToken,
    });
    assertError(res, 400, 'validation_error');
    assertError(await get(`/stores/${'a'.repeat(33)}`), 400, 'validation_error');
    assertError(await get(`/stores/${storeId}/secrets/${'a'.repeat(33)}`), 400, 'validation_error');
    assertError(await get('/stores/ffffffffffffffffffffffffffffffff'), 404, 'store_not_found');
  });

  test('bodies: malformed JSON 400, a non-JSON media type 415, too large 413', async () => {
    const malformed = await raw(server, log, 'POST', accountPath(ACCOUNT, '/stores'), {
      token: server.adminToken,
      rawBody: '{"name": ',
    });
    assertError(malformed, 400, 'malformed_body');
    assert.equal(malformed.body.errors[0]?.code, CLOUDFLARE_ERRORS.malformed_body.code);
    // text/plain is read as JSON (what wrangler sends, see the next test), so a form-encoded text is
    // malformed JSON, not a string handed to validation.
    const text = await raw(server, log, 'POST', accountPath(ACCOUNT, '/stores'), {
      token: server.adminToken,
      rawBody: 'name=x',
      contentType: 'text/plain',
    });
    assertError(text, 400, 'malformed_body');
    const jsonString = await raw(server, log, 'POST', accountPath(ACCOUNT, '/stores'), {
      token: server.adminToken,
      rawBody: '"name"',
      contentType: 'text/plain;charset=UTF-8',
    });
    assertError(jsonString, 400, 'validation_error');
    const form = await raw(server, log, 'POST', accountPath(ACCOUNT, '/stores'), {
      token: server.adminToken,
      rawBody: 'name=x',
      contentType: 'application/x-www-form-urlencoded',
    });
    assertError(form, 415, 'unsupported_media_type');
    const big = await raw(server, log, 'POST', accountPath(ACCOUNT, '/stores'), {
      token: server.adminToken,
      rawBody: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    assertError(big, 413, 'request_too_large');
    const bigCreate = await raw(server, log, 'POST', accountPath(ACCOUNT, `/stores/${storeId}/secrets`), {
      token: server.adminToken,
      rawBody: JSON.stringify([{ name: 'BIG', value: 'x'.repeat(9 * 1024 * 1024), scopes: ['workers'] }]),
    });
    assertError(bigCreate, 413, 'request_too_large');
    const bigPatch = await patch({ value: 'x'.repeat(600 * 1024) });
    assertError(bigPatch, 413, 'request_too_large');
  });
});

describe('Cloudflare facade: limits', () => {
  let server: TestServer;
  const log = new ExchangeLog();

  before(async () => {
    server = await startTestServer({ env: { COFFER_SECRET_QUOTA: '3', COFFER_STORE_LIMIT: '2' } });
  });
  after(async () => {
    await server.close();
  });

  test('the store limit is 403 maximum_stores_exceeded (1003); the secret quota 403 maximum_secrets_exceeded', async () => {
    const cf = sdkClient(server, log, { apiToken: server.adminToken });
    const a = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'a' });
    await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'b' });
    const third = await sdkRejects(
      cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'c' }),
      403,
      'maximum_stores_exceeded',
    );
    assert.equal(third.errors[0]?.code, 1003);

    const quota = await cf.secretsStore.quota.get({ account_id: ACCOUNT });
    assert.deepEqual(quota, { secrets: { quota: 3, usage: 0 } });
    const body = (names: string[]) =>
      names.map((name) => ({ name, value: 'v', scopes: ['workers' as const] }));
    await cf.secretsStore.stores.secrets.create(a.id, { account_id: ACCOUNT, body: body(['A', 'B']) });
    await sdkRejects(
      cf.secretsStore.stores.secrets.create(a.id, { account_id: ACCOUNT, body: body(['C', 'D']) }),
      403,
      'maximum_secrets_exceeded',
    );
    const [c] = (
      await cf.secretsStore.stores.secrets.create(a.id, { account_id: ACCOUNT, body: body(['C']) })
    ).result;
    assert.ok(c);
    await sdkRejects(
      cf.secretsStore.stores.secrets.duplicate(c.id, {
        account_id: ACCOUNT,
        store_id: a.id,
        name: 'D',
        scopes: ['workers'],
      }),
      403,
      'maximum_secrets_exceeded',
    );
    assert.deepEqual(await cf.secretsStore.quota.get({ account_id: ACCOUNT }), {
      secrets: { quota: 3, usage: 3 },
    });
  });
});
