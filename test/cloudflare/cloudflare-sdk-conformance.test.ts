import { CLOUDFLARE_ERRORS } from '../../src/http/cloudflare/cloudflare-errors.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Cloudflare from 'cloudflare';
import { OPERATOR } from '../../src/core/actor.js';
import type { Clock } from '../../src/core/clock.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  accountPath,
  assertError,
  assertJsonContentType,
  ExchangeLog,
  raw,
  sdkClient,
  sdkRejects,
} from './cloudflare-test-kit.js';

/** Every reading is one second after the previous one: `modified` moves without waiting on real time. */
function steppingClock(): Clock {
  let t = Date.parse('2030-01-01T00:00:00Z');
  return {
    now: () => {
      t += 1000;
      return t;
    },
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ACCOUNT = 'default';

/** Values used anywhere in this file: none may appear in any response body. */
const VALUES: string[] = [];
function value(label: string): string {
  const v = `sv-${label}-${VALUES.length}-6f1c2e`;
  VALUES.push(v);
  return v;
}

describe('Cloudflare Secrets Store through the official SDK (reference section 7)', () => {
  let server: TestServer;
  const log = new ExchangeLog();
  let cf: Cloudflare;

  before(async () => {
    server = await startTestServer({ clock: steppingClock() });
    cf = sdkClient(server, log, { apiToken: server.adminToken });
  });

  after(async () => {
    await server.close();
  });

  test('1. auth: none is 401, a bearer token and the apiKey + apiEmail pair are accepted', async () => {
    const none = await raw(server, log, 'GET', accountPath(ACCOUNT, '/stores'));
    assertError(none, 401, 'authentication_required');
    const viaToken = await cf.secretsStore.quota.get({ account_id: ACCOUNT });
    assert.equal(typeof viaToken.secrets?.quota, 'number');
    const keyClient = sdkClient(server, log, { apiKey: server.adminToken, apiEmail: 'ops@example.com' });
    const viaKey = await keyClient.secretsStore.quota.get({ account_id: ACCOUNT });
    assert.deepEqual(viaKey, viaToken);
    const sent = log.exchanges.at(-1);
    assert.equal(sent?.status, 200);
  });

  test('2. store create answers an object; get answers the same object', async () => {
    const store = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'service_x_keys' });
    assert.match(store.id, HEX32);
    assert.equal(store.name, 'service_x_keys');
    assert.match(store.created, ISO);
    assert.match(store.modified, ISO);
    assert.equal(store.account_id, ACCOUNT);
    assert.deepEqual(await cf.secretsStore.stores.get(store.id, { account_id: ACCOUNT }), store);
  });

  test('3. store list: auto-pagination yields every store once and stops; a page past the end is []', async () => {
    for (const n of ['p1', 'p2', 'p3', 'p4'])
      await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: n });
    const expected = (await server.runtime.core.stores.list(OPERATOR, ACCOUNT)).map((s) => s.id).sort();
    assert.equal(expected.length, 5);
    const seen: string[] = [];
    for await (const s of cf.secretsStore.stores.list({ account_id: ACCOUNT, per_page: 2 })) seen.push(s.id);
    assert.deepEqual([...seen].sort(), expected);

    const page2 = await raw(server, log, 'GET', accountPath(ACCOUNT, '/stores?page=2&per_page=2'), {
      token: server.adminToken,
    });
    assert.deepEqual(page2.body.result_info, { count: 2, page: 2, per_page: 2, total_count: 5 });
    const last = await raw(server, log, 'GET', accountPath(ACCOUNT, '/stores?page=3&per_page=2'), {
      token: server.adminToken,
    });
    assert.deepEqual(last.body.result_info, { count: 1, page: 3, per_page: 2, total_count: 5 });
    const past = await raw(server, log, 'GET', accountPath(ACCOUNT, '/stores?page=9&per_page=2'), {
      token: server.adminToken,
    });
    assert.equal(past.status, 200);
    assert.deepEqual(past.body.result, []);
    assert.deepEqual(past.body.result_info, { count: 0, page: 9, per_page: 2, total_count: 5 });
    const firstDefault = await raw(server, log, 'GET', accountPath(ACCOUNT, '/stores'), {
      token: server.adminToken,
    });
    assert.equal(firstDefault.body.result_info?.page, 1);
    assert.equal(firstDefault.body.result_info?.per_page, 20);

    const byName: string[] = [];
    for await (const s of cf.secretsStore.stores.list({
      account_id: ACCOUNT,
      order: 'name',
      direction: 'desc',
    })) {
      byName.push(s.name);
    }
    assert.deepEqual(byName, ['service_x_keys', 'p4', 'p3', 'p2', 'p1']);
  });

  test('4. secret create answers an array of secrets without values', async () => {
    const store = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'create-store' });
    const page = await cf.secretsStore.stores.secrets.create(store.id, {
      account_id: ACCOUNT,
      body: [
        { name: 'API_KEY', value: value('a'), scopes: ['workers'], comment: 'the api key' },
        { name: 'DB_PASSWORD', value: value('b'), scopes: ['workers', 'ai_gateway'] },
      ],
    });
    const created = page.result;
    assert.equal(created.length, 2);
    for (const s of created) {
      assert.match(s.id, HEX32);
      assert.equal(s.store_id, store.id);
      assert.ok(['pending', 'active', 'deleted'].includes(s.status));
      assert.equal(s.status, 'active');
      assert.ok(Array.isArray(s.scopes));
      assert.match(s.created, ISO);
      assert.match(s.modified, ISO);
      assert.ok(!('value' in s));
    }
    assert.equal(created[0]?.comment, 'the api key');
    assert.equal(created[1]?.comment, '', 'comment is always a string');
    assert.deepEqual(created[1]?.scopes, ['workers', 'ai_gateway']);
  });

  test('6. secret list: search, scopes (repeated and comma-separated), order, pagination over 100', async () => {
    const store = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'list-store' });
    const body = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => {
        const n = from + i;
        return {
          name: `S_${String(n).padStart(3, '0')}`,
          value: value(`list${n}`),
          scopes: [n % 3 === 0 ? 'ai_gateway' : n % 3 === 1 ? 'workers' : 'dex'] as (
            'ai_gateway' | 'workers' | 'dex'
          )[],
          comment: n === 7 ? 'Needle in the comment' : '',
        };
      });
    await cf.secretsStore.stores.secrets.create(store.id, { account_id: ACCOUNT, body: [...body(0, 65)] });
    await cf.secretsStore.stores.secrets.create(store.id, { account_id: ACCOUNT, body: [...body(65, 130)] });

    const before = log.exchanges.length;
    const all: string[] = [];
    for await (const s of cf.secretsStore.stores.secrets.list(store.id, {
      account_id: ACCOUNT,
      per_page: 100,
    })) {
      all.push(s.id);
    }
    assert.equal(all.length, 130);
    assert.equal(new Set(all).size, 130);
    const requests = log.exchanges.slice(before);
    assert.equal(requests.length, 3, 'pages 1 and 2, then an empty page 3 ends the loop');
    assert.deepEqual(requests[2]?.body.result, []);

    const defaultPaged: string[] = [];
    for await (const s of cf.secretsStore.stores.secrets.list(store.id, { account_id: ACCOUNT })) {
      defaultPaged.push(s.name);
    }
    assert.equal(defaultPaged.length, 130, 'default page size, 7 pages, still every secret once');
    assert.equal(new Set(defaultPaged).size, 130);

    const search = await cf.secretsStore.stores.secrets.list(store.id, {
      account_id: ACCOUNT,
      search: 'needle',
    });
    assert.deepEqual(
      search.result.map((s) => s.name),
      ['S_007'],
    );
    const byName = await cf.secretsStore.stores.secrets.list(store.id, {
      account_id: ACCOUNT,
      search: 's_12',
      order: 'name',
    });
    assert.deepEqual(
      byName.result.map((s) => s.name),
      ['S_120', 'S_121', 'S_122', 'S_123', 'S_124', 'S_125', 'S_126', 'S_127', 'S_128', 'S_129'],
    );

    const aiBefore = log.exchanges.length;
    const ai: string[] = [];
    for await (const s of cf.secretsStore.stores.secrets.list(store.id, {
      account_id: ACCOUNT,
      scopes: ['ai_gateway'],
      per_page: 100,
    })) {
      assert.deepEqual(s.scopes, ['ai_gateway']);
      ai.push(s.name);
    }
    assert.equal(ai.length, 44);
    const url = new URL(log.exchanges[aiBefore]?.url ?? '');
    assert.deepEqual(url.searchParams.getAll('scopes'), ['ai_gateway']);

    const two = await cf.secretsStore.stores.secrets.list(store.id, {
      account_id: ACCOUNT,
      scopes: ['ai_gateway', 'dex'],
      per_page: 100,
    });
    assert.equal((two.result_info as { total_count?: number }).total_count, 87, 'any of the scopes');
    assert.ok(new URL(log.exchanges.at(-1)?.url ?? '').searchParams.getAll('scopes').length === 2);
    const comma = await raw(
      server,
      log,
      'GET',
      accountPath(ACCOUNT, `/stores/${store.id}/secrets?scopes=ai_gateway,dex&per_page=1`),
      { token: server.adminToken },
    );
    assert.equal(comma.body.result_info?.total_count, 87);

    const desc = await cf.secretsStore.stores.secrets.list(store.id, {
      account_id: ACCOUNT,
      order: 'name',
      direction: 'desc',
      per_page: 3,
    });
    assert.deepEqual(
      desc.result.map((s) => s.name),
      ['S_129', 'S_128', 'S_127'],
    );
    assert.deepEqual(desc.result_info, { count: 3, page: 1, per_page: 3, total_count: 130 });
  });

  test('7. get and edit: comment alone, scopes alone, value as a new version never returned', async () => {
    const store = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'edit-store' });
    const original = value('orig');
    const [secret] = (
      await cf.secretsStore.stores.secrets.create(store.id, {
        account_id: ACCOUNT,
        body: [{ name: 'ROTATE_ME', value: original, scopes: ['workers'], comment: 'first' }],
      })
    ).result;
    assert.ok(secret);
    const got = await cf.secretsStore.stores.secrets.get(secret.id, {
      account_id: ACCOUNT,
      store_id: store.id,
    });
    assert.deepEqual(got, secret);

    const commented = await cf.secretsStore.stores.secrets.edit(secret.id, {
      account_id: ACCOUNT,
      store_id: store.id,
      comment: 'second',
    });
    assert.equal(commented.comment, 'second');
    assert.deepEqual(commented.scopes, ['workers']);
    assert.equal(commented.name, secret.name);
    assert.equal(commented.created, secret.created);
    assert.ok(Date.parse(commented.modified) > Date.parse(secret.modified), 'modified moves');

    const scoped = await cf.secretsStore.stores.secrets.edit(secret.id, {
      account_id: ACCOUNT,
      store_id: store.id,
      scopes: ['dex', 'access'],
    });
    assert.deepEqual(scoped.scopes, ['dex', 'access']);
    assert.equal(scoped.comment, 'second');

    const rotated = value('rotated');
    const edited = await cf.secretsStore.stores.secrets.edit(secret.id, {
      account_id: ACCOUNT,
      store_id: store.id,
      value: rotated,
    });
    assert.ok(!('value' in edited));
    assert.equal(edited.status, 'active');
    assert.equal(edited.comment, 'second');
    const versions = await server.runtime.repository.listVersions(secret.id);
    assert.deepEqual(
      versions.map((v) => v.version),
      [1, 2],
    );
    const revealed = await server.runtime.core.secrets.reveal(OPERATOR, ACCOUNT, 'ROTATE_ME', 'edit-store');
    assert.equal(revealed.toString('utf8'), rotated);
  });

  test('8. duplicate: a new id in the same store, the same value under its own data key, quota +1', async () => {
    const store = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'dup-store' });
    const v = value('dup');
    const [source] = (
      await cf.secretsStore.stores.secrets.create(store.id, {
        account_id: ACCOUNT,
        body: [{ name: 'SOURCE', value: v, scopes: ['workers'], comment: 'source comment' }],
      })
    ).result;
    assert.ok(source);
    const usageBefore = (await cf.secretsStore.quota.get({ account_id: ACCOUNT })).secrets?.usage ?? -1;
    const copy = await cf.secretsStore.stores.secrets.duplicate(source.id, {
      account_id: ACCOUNT,
      store_id: store.id,
      name: 'COPY',
      scopes: ['workers', 'containers'],
    });
    assert.notEqual(copy.id, source.id);
    assert.equal(copy.store_id, store.id);
    assert.equal(copy.name, 'COPY');
    assert.deepEqual(copy.scopes, ['workers', 'containers']);
    assert.equal(copy.comment, 'source comment', 'an omitted comment is kept');
    assert.equal(copy.status, 'active');
    const usageAfter = (await cf.secretsStore.quota.get({ account_id: ACCOUNT })).secrets?.usage ?? -1;
    assert.equal(usageAfter, usageBefore + 1);

    const withComment = await cf.secretsStore.stores.secrets.duplicate(source.id, {
      account_id: ACCOUNT,
      store_id: store.id,
      name: 'COPY2',
      scopes: ['websearch'],
      comment: '',
    });
    assert.equal(withComment.comment, '');

    const revealed = await server.runtime.core.secrets.reveal(OPERATOR, ACCOUNT, 'COPY', 'dup-store');
    assert.equal(revealed.toString('utf8'), v);

    // Read through the repository (either engine): each secret's first and only version.
    const row = async (id: string) =>
      (await server.runtime.repository.getVersion(id, 1)) ?? assert.fail(`no version 1 of ${id}`);
    const a = await row(source.id);
    const b = await row(copy.id);
    assert.ok(!a.wrappedKey.equals(b.wrappedKey), 'the copy has its own data key');
    assert.ok(!a.ciphertext.equals(b.ciphertext), 'and its own ciphertext');
  });

  test('9. quota: {secrets:{quota, usage}}, usage tracks creates and deletes across stores', async () => {
    const q0 = await cf.secretsStore.quota.get({ account_id: ACCOUNT });
    assert.equal(q0.secrets?.quota, 100_000);
    const usage0 = q0.secrets?.usage ?? -1;
    assert.equal(usage0, await server.runtime.repository.countSecretsInTenant(ACCOUNT));
    const s1 = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'quota-a' });
    const s2 = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'quota-b' });
    const [x] = (
      await cf.secretsStore.stores.secrets.create(s1.id, {
        account_id: ACCOUNT,
        body: [{ name: 'Q', value: value('q1'), scopes: ['workers'] }],
      })
    ).result;
    await cf.secretsStore.stores.secrets.create(s2.id, {
      account_id: ACCOUNT,
      body: [{ name: 'Q', value: value('q2'), scopes: ['workers'] }],
    });
    assert.equal((await cf.secretsStore.quota.get({ account_id: ACCOUNT })).secrets?.usage, usage0 + 2);
    assert.ok(x);
    await cf.secretsStore.stores.secrets.delete(x.id, { account_id: ACCOUNT, store_id: s1.id });
    assert.equal((await cf.secretsStore.quota.get({ account_id: ACCOUNT })).secrets?.usage, usage0 + 1);
    await cf.secretsStore.stores.delete(s2.id, { account_id: ACCOUNT, force: true });
    assert.equal((await cf.secretsStore.quota.get({ account_id: ACCOUNT })).secrets?.usage, usage0);
  });

  test('10. secret delete and bulk delete resolve to null with 202', async () => {
    const store = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'delete-store' });
    const created = (
      await cf.secretsStore.stores.secrets.create(store.id, {
        account_id: ACCOUNT,
        body: ['D1', 'D2', 'D3', 'D4'].map((name) => ({
          name,
          value: value(name),
          scopes: ['workers' as const],
        })),
      })
    ).result;
    const [d1, d2, d3, d4] = created;
    assert.ok(d1 && d2 && d3 && d4);

    const one = await cf.secretsStore.stores.secrets
      .delete(d1.id, { account_id: ACCOUNT, store_id: store.id })
      .withResponse();
    assert.equal(one.data, null);
    assert.equal(one.response.status, 202);
    await sdkRejects(
      cf.secretsStore.stores.secrets.get(d1.id, { account_id: ACCOUNT, store_id: store.id }),
      404,
      'secret_not_found',
    );
    await sdkRejects(
      cf.secretsStore.stores.secrets.delete(d1.id, { account_id: ACCOUNT, store_id: store.id }),
      404,
      'secret_not_found',
    );

    const bulk = await cf.secretsStore.stores.secrets
      .bulkDelete(store.id, { account_id: ACCOUNT }, { body: { ids: [d2.id, d3.id] } })
      .withResponse();
    assert.equal(bulk.data, null);
    assert.equal(bulk.response.status, 202);
    const left = await cf.secretsStore.stores.secrets.list(store.id, { account_id: ACCOUNT });
    assert.deepEqual(
      left.result.map((s) => s.id),
      [d4.id],
    );

    // The SDK's default bulkDelete sends no body: refused, nothing deleted.
    await sdkRejects(cf.secretsStore.stores.secrets.bulkDelete(store.id, { account_id: ACCOUNT }), 400);
    // One unknown id: 404 and none goes.
    await sdkRejects(
      cf.secretsStore.stores.secrets.bulkDelete(
        store.id,
        { account_id: ACCOUNT },
        { body: { ids: [d4.id, 'ffffffffffffffffffffffffffffffff'] } },
      ),
      404,
      'secret_not_found',
    );
    assert.equal(
      (await cf.secretsStore.stores.secrets.list(store.id, { account_id: ACCOUNT })).result.length,
      1,
    );
    // The older body shape.
    const older = await raw(server, log, 'DELETE', accountPath(ACCOUNT, `/stores/${store.id}/secrets`), {
      token: server.adminToken,
      body: [{ id: d4.id }],
    });
    assert.equal(older.status, 202);
    assert.equal(
      (await cf.secretsStore.stores.secrets.list(store.id, { account_id: ACCOUNT })).result.length,
      0,
    );
  });

  test('11. store delete: 409 store_not_empty without force, cascade with force, 404 after', async () => {
    const store = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'full-store' });
    const [secret] = (
      await cf.secretsStore.stores.secrets.create(store.id, {
        account_id: ACCOUNT,
        body: [{ name: 'KEEP', value: value('keep'), scopes: ['workers'] }],
      })
    ).result;
    assert.ok(secret);
    const conflict = await sdkRejects(cf.secretsStore.stores.delete(store.id, { account_id: ACCOUNT }), 409);
    assert.equal(conflict.errors[0]?.code, CLOUDFLARE_ERRORS.store_not_empty.code);
    assert.equal(
      conflict.errors[0]?.message,
      'The store still holds secrets; delete them or pass force=true.',
    );
    assert.equal(conflict.headers?.get('x-should-retry'), 'false');
    await sdkRejects(cf.secretsStore.stores.delete(store.id, { account_id: ACCOUNT, force: false }), 409);
    const deleted = await cf.secretsStore.stores
      .delete(store.id, { account_id: ACCOUNT, force: true })
      .withResponse();
    assert.equal(deleted.data, null);
    assert.equal(deleted.response.status, 200);
    await sdkRejects(cf.secretsStore.stores.get(store.id, { account_id: ACCOUNT }), 404, 'store_not_found');
    assert.equal(await server.runtime.repository.getSecretById(store.id, secret.id), null);
    assert.deepEqual(await server.runtime.repository.listVersions(secret.id), []);

    const empty = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'empty-store' });
    assert.equal(await cf.secretsStore.stores.delete(empty.id, { account_id: ACCOUNT }), null);
  });

  test('13. cross-tenant: another account or another account’s store is 404 and leaks nothing', async () => {
    const otherToken = await server.createKey('acme', 'acme-admin', ['*']);
    const other = sdkClient(server, log, { apiToken: otherToken });
    const acmeStore = await other.secretsStore.stores.create({ account_id: 'acme', name: 'acme-store' });
    const [acmeSecret] = (
      await other.secretsStore.stores.secrets.create(acmeStore.id, {
        account_id: 'acme',
        body: [{ name: 'ACME_ONLY', value: value('acme'), scopes: ['workers'] }],
      })
    ).result;
    assert.ok(acmeSecret);
    const mine = await cf.secretsStore.stores.create({ account_id: ACCOUNT, name: 'mine' });

    await sdkRejects(cf.secretsStore.stores.list({ account_id: 'acme' }), 404, 'account_not_found');
    await sdkRejects(cf.secretsStore.quota.get({ account_id: 'acme' }), 404);
    await sdkRejects(cf.secretsStore.stores.get(acmeStore.id, { account_id: 'acme' }), 404);
    await sdkRejects(
      cf.secretsStore.stores.get(acmeStore.id, { account_id: ACCOUNT }),
      404,
      'store_not_found',
    );
    await sdkRejects(
      cf.secretsStore.stores.secrets.list(acmeStore.id, { account_id: ACCOUNT }),
      404,
      'store_not_found',
    );
    await sdkRejects(
      cf.secretsStore.stores.secrets.get(acmeSecret.id, { account_id: ACCOUNT, store_id: mine.id }),
      404,
      'secret_not_found',
    );
    await sdkRejects(
      cf.secretsStore.stores.secrets.get(acmeSecret.id, { account_id: 'acme', store_id: acmeStore.id }),
      404,
    );
    await sdkRejects(cf.secretsStore.stores.delete(acmeStore.id, { account_id: 'acme', force: true }), 404);
    await sdkRejects(
      cf.secretsStore.stores.secrets.create(acmeStore.id, {
        account_id: ACCOUNT,
        body: [{ name: 'INTRUDER', value: value('intruder'), scopes: ['workers'] }],
      }),
      404,
    );
    const stillThere = await other.secretsStore.stores.secrets.list(acmeStore.id, { account_id: 'acme' });
    assert.deepEqual(
      stillThere.result.map((s) => s.name),
      ['ACME_ONLY'],
    );
    for (const e of log.exchanges.filter((x) => x.status === 404)) {
      assert.ok(
        !e.text.includes('acme-store') && !e.text.includes('ACME_ONLY') && !e.text.includes(acmeStore.id),
      );
    }
  });

  test('12. envelope invariants held on every response; no delete answered 204; no value ever returned', () => {
    assert.ok(log.exchanges.length > 50);
    for (const e of log.exchanges) assertJsonContentType(e);
    assert.ok(log.exchanges.every((e) => e.status !== 204));
    const deletes = log.exchanges.filter((e) => e.method === 'DELETE' && e.status < 300);
    assert.ok(deletes.length > 0 && deletes.every((e) => e.body.result === null));
    log.assertNoneContains(VALUES);
  });
});
