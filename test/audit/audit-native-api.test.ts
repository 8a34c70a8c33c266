import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { eventsDuring, summary } from './audit-events.js';

/** The native API's writes, reveals (single and batch), deletes and refusals are recorded too. */
describe('audit: the native /v1 API', () => {
  let server: TestServer;
  let admin: string;
  const VALUE = 'native-audit-canary-value';

  before(async () => {
    server = await startTestServer();
    admin = server.adminToken;
  });
  after(() => server.close());

  it('write, reveal, batch reveal, delete and a refusal each leave an event without the value', async () => {
    const auth = { token: admin, auth: 'bearer' as const };
    let storeId = '';
    const events = await eventsDuring(server, 'default', async () => {
      const created = await request(server.url, 'POST', '/v1/tenants/default/stores', {
        ...auth,
        body: { name: 'native' },
      });
      assert.equal(created.status, 201, created.text);
      storeId = (created.json as { id: string }).id;
      const put = await request(server.url, 'PUT', '/v1/tenants/default/stores/native/secrets/API_KEY', {
        ...auth,
        body: { value: VALUE },
      });
      assert.ok(put.status === 200 || put.status === 201, put.text);
      const one = await request(
        server.url,
        'GET',
        '/v1/tenants/default/stores/native/secrets/API_KEY?reveal=true',
        auth,
      );
      assert.equal((one.json as { value: string }).value, VALUE);
      const batch = await request(server.url, 'POST', '/v1/tenants/default/stores/native/reveal', {
        ...auth,
        body: { names: ['API_KEY'] },
      });
      assert.equal(batch.status, 200, batch.text);
      const reader = await server.createKey('default', 'native-reader', ['secrets:read']);
      const refused = await request(
        server.url,
        'GET',
        '/v1/tenants/default/stores/native/secrets/API_KEY?reveal=true',
        { token: reader, auth: 'bearer' },
      );
      assert.equal(refused.status, 403);
      const del = await request(
        server.url,
        'DELETE',
        '/v1/tenants/default/stores/native/secrets/API_KEY',
        auth,
      );
      assert.equal(del.status, 204, del.text);
    });
    // The whole sequence, in order: an extra, a missing or a reordered event fails (a `some` per
    // pattern would not). Events name the store by its id, whichever reference the URL used.
    const S = `store-id:${storeId}`;
    assert.deepEqual(summary(events), [
      `store.create store:native/${S} allowed`,
      `secret.create ${S}/secret:API_KEY allowed`,
      `secret.set-value ${S}/secret:API_KEY allowed`,
      `secret.reveal ${S}/secret:API_KEY allowed`,
      `secret.reveal-batch ${S} allowed`,
      // Issue 13: a batch reveal also names each secret it disclosed.
      `secret.reveal ${S}/secret:API_KEY allowed`,
      'apikey.create apikey:native-reader allowed', // the test's own key, made by the operator
      `secret.reveal ${S}/secret:API_KEY denied missing_permission`,
      `secret.delete ${S}/secret:API_KEY allowed`,
    ]);
    assert.ok(!JSON.stringify(events).includes(VALUE));
  });
});
