import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface Page {
  items: { name: string }[];
  nextCursor: string | null;
}

describe('/v1 cursor paging and prefix search', () => {
  let server: TestServer;
  // Every record gets the same timestamp: ordering must never depend on time.
  const frozen = { now: () => Date.UTC(2030, 0, 1) };
  const call = (method: string, path: string, body?: unknown) =>
    request(server.url, method, path, { token: server.adminToken, ...(body === undefined ? {} : { body }) });

  async function collect(
    path: string,
    limit: number,
    between?: (page: number) => Promise<void>,
  ): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 1000; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const res = await call(
        'GET',
        `${path}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      assert.equal(res.status, 200, res.text);
      const body = res.json as Page;
      assert.ok(body.items.length <= limit);
      names.push(...body.items.map((i) => i.name));
      if (body.nextCursor === null) return names;
      assert.match(body.nextCursor, /^[A-Za-z0-9._~-]+$/, 'URL-safe: unreserved characters only');
      cursor = body.nextCursor;
      await between?.(page);
    }
    throw new Error('paging did not end');
  }

  before(async () => {
    server = await startTestServer({ clock: frozen });
    await call('POST', '/v1/tenants/default/stores', { name: 'paged' });
    const store = await server.runtime.core.stores.getByName(OPERATOR, 'default', 'paged');
    assert.ok(store);
    await server.runtime.core.secrets.createMany(
      OPERATOR,
      'default',
      { id: store.id },
      Array.from({ length: 57 }, (_, i) => ({
        name: `${i % 3 === 0 ? 'APP_' : 'DB_'}${String(i).padStart(3, '0')}`,
      })),
    );
  });
  after(() => server.close());

  it('pages through every secret once, in name order, for several page sizes', async () => {
    const all = await collect('/v1/tenants/default/stores/paged/secrets', 1000);
    assert.equal(all.length, 57);
    assert.deepEqual(all, [...all].sort());
    for (const limit of [1, 5, 7, 56, 57, 58]) {
      assert.deepEqual(
        await collect('/v1/tenants/default/stores/paged/secrets', limit),
        all,
        `limit ${limit}`,
      );
    }
  });

  it('filters by name prefix (case-sensitive), with paging', async () => {
    const app = await collect('/v1/tenants/default/stores/paged/secrets?prefix=APP_', 4);
    assert.equal(app.length, 19);
    assert.ok(app.every((n) => n.startsWith('APP_')));
    assert.deepEqual(await collect('/v1/tenants/default/stores/paged/secrets?prefix=app_', 4), []);
    assert.deepEqual(await collect('/v1/tenants/default/stores/paged/secrets?prefix=DB_00', 2), [
      'DB_001',
      'DB_002',
      'DB_004',
      'DB_005',
      'DB_007',
      'DB_008',
    ]);
  });

  it('a cursor is bound to its prefix, and garbage is refused', async () => {
    const first = (await call('GET', '/v1/tenants/default/stores/paged/secrets?prefix=DB_&limit=2'))
      .json as Page;
    assert.ok(first.nextCursor);
    const other = await call(
      'GET',
      `/v1/tenants/default/stores/paged/secrets?prefix=APP_&cursor=${first.nextCursor}`,
    );
    assert.equal(other.status, 400);
    assert.equal((other.json as { code: string }).code, 'invalid_cursor');
    const junk = await call(
      'GET',
      `/v1/tenants/default/stores/paged/secrets?cursor=${Buffer.from('{"a":1}').toString('base64url')}`,
    );
    assert.equal(junk.status, 400);
  });

  it('writes between pages neither repeat nor skip the secrets that were there all along', async () => {
    await call('POST', '/v1/tenants/default/stores', { name: 'moving' });
    const base = '/v1/tenants/default/stores/moving/secrets';
    const stable = Array.from({ length: 30 }, (_, i) => `K${String(i * 2 + 10).padStart(3, '0')}`);
    for (const name of stable) await call('PUT', `${base}/${name}`, {});
    const extra = Array.from({ length: 8 }, (_, i) => `A${i}`);
    for (const name of extra) await call('PUT', `${base}/${name}`, {});
    const seen = await collect(base, 4, async (page) => {
      // Before the cursor: delete two early names on one page, insert three on another.
      if (page === 1) for (const name of extra.splice(0, 6)) await call('DELETE', `${base}/${name}`);
      if (page === 3) for (const name of ['B1', 'B2', 'B3']) await call('PUT', `${base}/${name}`, {});
    });
    assert.equal(new Set(seen).size, seen.length, 'no name twice');
    for (const name of stable) assert.ok(seen.includes(name), `${name} was skipped`);
    assert.deepEqual(seen, [...seen].sort());
  });

  it('pages stores by name with a prefix, stores created at the same instant', async () => {
    for (let i = 0; i < 12; i++)
      await call('POST', '/v1/tenants/default/stores', { name: `proj/env-${String(i).padStart(2, '0')}` });
    const stores = await collect('/v1/tenants/default/stores?prefix=proj%2F', 5);
    assert.deepEqual(
      stores,
      Array.from({ length: 12 }, (_, i) => `proj/env-${String(i).padStart(2, '0')}`),
    );
    const everything = await collect('/v1/tenants/default/stores', 3);
    assert.equal(new Set(everything).size, everything.length);
    assert.ok(everything.includes('paged') && everything.includes('moving'));
  });
});
