import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { accountPath, assertError, ExchangeLog, raw, systemPath } from './cloudflare-test-kit.js';
import { accountRoutes, type RouteCase, systemRoutes } from './cloudflare-routes-table.js';

const ACCOUNT = 'default';

/** The routes of a table that take a body, the bulk delete last (it removes the secret the others use). */
function bodyRoutes(routes: RouteCase[]): RouteCase[] {
  const withBody = routes.filter((r) => r.body !== undefined);
  const bulkDelete = withBody.filter((r) => r.method === 'DELETE');
  return [...withBody.filter((r) => r.method !== 'DELETE'), ...bulkDelete];
}

/**
 * wrangler passes `fetch()` a JSON string and no Content-Type, so its bodies arrive as
 * `text/plain;charset=UTF-8`; Cloudflare reads them as JSON. Every body-taking route of both route
 * families does too, while media types that are not JSON text stay refused.
 */
describe('Cloudflare facade: JSON bodies labelled text/plain (as wrangler sends them)', () => {
  let server: TestServer;
  const log = new ExchangeLog();
  let service = '';

  const send = (token: string, route: RouteCase, contentType: string) =>
    raw(server, log, route.method, route.path, {
      token,
      rawBody: JSON.stringify(route.body),
      contentType,
    });

  before(async () => {
    server = await startTestServer();
    service = await server.createService('svc-media');
  });
  after(async () => {
    await server.close();
  });

  async function storeWithSecret(token: string, system: boolean): Promise<[string, string]> {
    const path = system ? systemPath(ACCOUNT) : accountPath(ACCOUNT, '/stores');
    const body = system ? { account_id: 1, name: 'media_system' } : { name: 'media_account' };
    const store = await raw(server, log, 'POST', path, { token, body });
    assert.equal(store.status, 200, store.text);
    const storeId = (store.body.result as { id: string }).id;
    const secretsPath = system
      ? systemPath(ACCOUNT, `/${storeId}/secrets`)
      : accountPath(ACCOUNT, `/stores/${storeId}/secrets`);
    const secret = await raw(server, log, 'POST', secretsPath, {
      token,
      body: [{ name: 'MEDIA', value: 'media-value', scopes: ['workers'] }],
    });
    assert.equal(secret.status, 200, secret.text);
    const [created] = secret.body.result as { id: string }[];
    assert.ok(created);
    return [storeId, created.id];
  }

  for (const family of ['account', 'system'] as const) {
    test(`${family} routes: text/plain;charset=UTF-8 JSON succeeds, a form or octet-stream is 415`, async () => {
      const token = family === 'system' ? service : server.adminToken;
      const [storeId, secretId] = await storeWithSecret(token, family === 'system');
      const routes = bodyRoutes(
        family === 'system'
          ? systemRoutes(ACCOUNT, storeId, secretId)
          : accountRoutes(ACCOUNT, storeId, secretId),
      );
      assert.equal(routes.length, 5);
      for (const route of routes) {
        for (const refused of ['application/x-www-form-urlencoded', 'application/octet-stream']) {
          assertError(await send(token, route, refused), 415, 'unsupported_media_type');
        }
        const res = await send(token, route, 'text/plain;charset=UTF-8');
        // 200, or 202 for the account bulk delete, exactly as with application/json.
        assert.ok(res.status === 200 || res.status === 202, `${route.method} ${route.path}: ${res.text}`);
        assert.equal(res.body.success, true);
      }
      // What the bodies did reads back: the created secret and the duplicate remain, the bulk delete took MEDIA.
      const listPath =
        family === 'system'
          ? systemPath(ACCOUNT, `/${storeId}/secrets`)
          : accountPath(ACCOUNT, `/stores/${storeId}/secrets`);
      const list = await raw(server, log, 'GET', listPath, { token });
      const names = (list.body.result as { name: string }[]).map((s) => s.name).sort();
      assert.deepEqual(names, ['SWEEP', 'SWEEP_COPY']);
    });
  }
});
