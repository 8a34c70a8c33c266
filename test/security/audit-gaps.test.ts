import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateToken } from '../../src/crypto/tokens.js';
import { eventsDuring, summary } from '../audit/audit-events.js';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 6: which secrets a batch reveal disclosed was lost (one event naming the store); a
 * successful `GET /v1/…/stores/{ref}` wrote nothing; a valid key on an unknown route left no trace.
 * Each case below reads the trail back and compares the exact events.
 */
const TENANT = 'acme';

describe('audit gaps', () => {
  let server: TestServer;
  let admin = '';
  let storeId = '';
  // A secret whose name has the shape of a Coffer token: the trail never writes it (safeName).
  const tokenName = generateToken();

  const v1 = (method: string, path: string, body?: unknown) =>
    request(server.url, method, `/v1/tenants/${TENANT}${path}`, {
      token: admin,
      ...(body === undefined ? {} : { body }),
    });

  before(async () => {
    server = await startTestServer();
    admin = await server.createKey(TENANT, 'admin', ['*']);
    const created = await v1('POST', '/stores', { name: 'app' });
    assert.equal(created.status, 201, created.text);
    storeId = (created.json as { id: string }).id;
    for (const [name, value] of [
      ['DB_PASSWORD', 'db-value-1'],
      ['API_KEY', 'api-value-2'],
      [tokenName, 'token-named-value-3'],
    ] as const) {
      assert.ok((await v1('PUT', `/stores/app/secrets/${name}`, { value })).status < 300);
    }
  });
  after(() => server.close());

  const store = () => `store-id:${storeId}`;

  it('/v1 batch reveal: one event for the batch, then one per disclosed secret, by name', async () => {
    const events = await eventsDuring(server, TENANT, async () => {
      const res = await v1('POST', '/stores/app/reveal', {
        names: ['DB_PASSWORD', 'MISSING', tokenName, 'API_KEY'],
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual((res.json as { missing: string[] }).missing, ['MISSING']);
    });
    assert.deepEqual(summary(events), [
      `secret.reveal-batch ${store()} allowed`,
      `secret.reveal ${store()}/secret:DB_PASSWORD allowed`,
      `secret.reveal ${store()}/secret:(token-like) allowed`,
      `secret.reveal ${store()}/secret:API_KEY allowed`,
    ]);
    assert.ok(events.every((e) => e.actor === 'key:admin'));
    assert.ok(!JSON.stringify(events).includes(tokenName), 'the token-shaped name is never written');
  });

  it('`coffer secrets export` (remote) and `coffer run` (local) record every secret they disclosed', async () => {
    const all = [
      `secret.reveal-batch ${store()} allowed`,
      `secret.reveal ${store()}/secret:API_KEY allowed`,
      `secret.reveal ${store()}/secret:DB_PASSWORD allowed`,
      `secret.reveal ${store()}/secret:(token-like) allowed`,
    ];
    const exported = await eventsDuring(server, TENANT, async () => {
      const res = await runCoffer(['export', '--tenant', TENANT, '--store', 'app', '--format', 'json'], {
        COFFER_URL: server.url,
        COFFER_TOKEN: admin,
        COFFER_DATA_DIR: '/nonexistent/coffer',
      });
      assert.equal(res.code, 0, res.stderr);
    });
    assert.deepEqual(summary(exported), all);

    const ran = await eventsDuring(server, TENANT, async () => {
      const res = await runCoffer(
        ['run', '--tenant', TENANT, '--store', 'app', '--', process.execPath, '-e', ''],
        // The local CLI opens the server's own data: its directory (the keyring), and its database.
        {
          COFFER_DATA_DIR: server.dataDir,
          ...(server.databaseUrl === null ? {} : { COFFER_DATABASE_URL: server.databaseUrl }),
        },
      );
      assert.equal(res.code, 0, res.stderr);
    });
    assert.deepEqual(summary(ran), all);
    assert.ok(ran.every((e) => e.actor === 'operator'));
  });

  it('GET /v1/…/stores/{ref}: by name and by id, and a refusal, each one event', async () => {
    const events = await eventsDuring(server, TENANT, async () => {
      assert.equal((await v1('GET', '/stores/app')).status, 200);
      assert.equal((await v1('GET', `/stores/${storeId}`)).status, 200);
      assert.equal((await v1('GET', '/stores/nope')).status, 404);
    });
    assert.deepEqual(summary(events), [
      `store.get store:app/${store()} allowed`,
      `store.get store:app/${store()} allowed`,
      'store.get store:nope denied store_not_found',
    ]);
  });

  it('a valid key on an unknown route, in each facade: one refusal naming the actor', async () => {
    const calls: [string, string, 'x-api-key' | 'bearer'][] = [
      ['GET', `/api/${TENANT}/nothing`, 'x-api-key'],
      ['DELETE', '/v1/nothing', 'x-api-key'],
      ['GET', `/client/v4/accounts/${TENANT}/nope`, 'bearer'],
      ['GET', `/${TENANT}/web/envs/dev/variables`, 'bearer'],
    ];
    const events = await eventsDuring(server, TENANT, async () => {
      for (const [method, path, auth] of calls) {
        const res = await request(server.url, method, path, { token: admin, auth });
        assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      }
    });
    assert.deepEqual(summary(events), [
      'request.refused GET (no route) denied route_not_found',
      'request.refused DELETE (no route) denied route_not_found',
      'request.refused GET (no route) denied route_not_found',
      'request.refused GET /:o/:p/envs/* denied route_not_found',
    ]);
    assert.ok(events.every((e) => e.actor === 'key:admin'));

    // Read back through the tenant's own audit route, as its admin would.
    const page = await request(server.url, 'GET', `/api/${TENANT}/audit?action=request.refused`, {
      token: admin,
    });
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /route_not_found/);
  });
});
