import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { dbCalls, startTestServer, type TestServer } from '../support/test-server.js';

const TENANT = 'resolve';

/**
 * Issue 14: `/v1` looked its store up, and then every secret operation looked it up again. Each
 * request is now one core call that resolves its `{ref}` once, whichever way the URL names the store:
 * a read makes one store read, a write none outside its transaction (the repository's metrics count
 * reads outside transactions one by one, and a transaction as a whole).
 */
describe('/v1 resolves the store once per request', () => {
  let server: TestServer;
  let admin = '';
  let storeId = '';

  const v1 = (method: string, path: string, body?: unknown) =>
    request(server.url, method, `/v1/tenants/${TENANT}${path}`, {
      token: admin,
      ...(body === undefined ? {} : { body }),
    });

  /** Store reads (by name and by id) made outside transactions so far. */
  async function storeReads(): Promise<number> {
    const calls = await dbCalls(server);
    return (calls.get('getStoreByName') ?? 0) + (calls.get('getStoreById') ?? 0);
  }

  before(async () => {
    server = await startTestServer();
    admin = await server.createKey(TENANT, 'admin', ['*']);
    const created = await v1('POST', '/stores', { name: 'app' });
    assert.equal(created.status, 201, created.text);
    storeId = (created.json as { id: string }).id;
  });
  after(() => server.close());

  for (const by of ['name', 'id'] as const) {
    it(`every secret route, the store named by ${by}: one store read per request`, async () => {
      const store = by === 'name' ? 'app' : storeId;
      // [method, path, body, store reads outside a transaction]
      const requests: [string, string, unknown, number][] = [
        ['PUT', `/stores/${store}/secrets/K_${by}`, { value: 'v1' }, 0],
        ['PUT', `/stores/${store}/secrets/K_${by}`, { value: 'v2' }, 0],
        ['GET', `/stores/${store}/secrets`, undefined, 1],
        ['GET', `/stores/${store}/secrets/K_${by}`, undefined, 1],
        ['GET', `/stores/${store}/secrets/K_${by}?reveal=true`, undefined, 1],
        ['POST', `/stores/${store}/reveal`, { names: [`K_${by}`] }, 1],
        ['DELETE', `/stores/${store}/secrets/K_${by}`, undefined, 0],
      ];
      for (const [method, path, body, reads] of requests) {
        const before = await storeReads();
        const res = await v1(method, path, body);
        assert.ok(res.status < 300, `${method} ${path}: ${res.text}`);
        assert.equal((await storeReads()) - before, reads, `${method} ${path}`);
      }
    });
  }

  it('deleting a store by name: no store read outside its transaction', async () => {
    assert.equal((await v1('POST', '/stores', { name: 'gone' })).status, 201);
    const before = await storeReads();
    const res = await v1('DELETE', '/stores/gone');
    assert.equal(res.status, 204, res.text);
    assert.equal((await storeReads()) - before, 0);
  });
});
