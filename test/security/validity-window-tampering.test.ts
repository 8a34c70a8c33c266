import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 8: a key that may only set values (secrets:set-value, no secrets:write) used to
 * clear a validity window an admin set, because a Neostore PUT without `options` means "no
 * window": a secret "not valid before 2099" became readable at once. The window is metadata;
 * only secrets:write changes it, on every facade.
 */
const NOT_BEFORE_2099 = '2099-01-01T00:00:00.000Z';

for (const engine of ['sqlite', 'postgres'] as const)
  describe(`security (${engine}): a value-only key cannot change a validity window`, () => {
    let server: TestServer;
    let schema: TestSchema | null = null;
    let valueOnly: string;
    let valueOnlyReader: string;
    const neoPut = (token: string, key: string, body: unknown) =>
      request(server.url, 'PUT', `/api/default/secrets/${key}`, { token, body });
    const neoGet = (key: string) =>
      request(server.url, 'GET', `/api/default/secrets/${key}`, { token: server.adminToken });
    const v1 = (token: string, method: string, name: string, body?: unknown) =>
      request(server.url, method, `/v1/tenants/default/stores/default/secrets/${name}`, {
        token,
        auth: 'bearer',
        body,
      });
    const windowOf = async (name: string) => {
      const res = await v1(server.adminToken, 'GET', name);
      assert.equal(res.status, 200, res.text);
      const { notBefore, expiresOn } = res.json as { notBefore: string | null; expiresOn: string | null };
      return { notBefore, expiresOn };
    };

    before(async () => {
      schema = engine === 'postgres' ? await createTestSchema() : null;
      server = await startTestServer(schema === null ? {} : { env: { COFFER_DATABASE_URL: schema.url } });
      valueOnly = await server.createKey('default', 'rotator', ['secrets:set-value']);
      valueOnlyReader = await server.createKey('default', 'rotator-v1', [
        'secrets:set-value',
        'secrets:read',
      ]);
    });
    after(async () => {
      await server.close();
      await schema?.drop();
    });

    it('Neostore: a PUT without options from a value-only key keeps the "not before 2099" window', async () => {
      assert.equal(
        (await neoPut(server.adminToken, 'guarded', { value: 'v1', options: { notBefore: NOT_BEFORE_2099 } }))
          .status,
        204,
      );
      assert.equal((await neoGet('guarded')).status, 404, 'not valid yet');
      const res = await neoPut(valueOnly, 'guarded', { value: 'v2' });
      assert.equal(res.status, 204, res.text);
      assert.equal((await neoGet('guarded')).status, 404, 'still not valid: the window was kept');
      assert.deepEqual(await windowOf('guarded'), { notBefore: NOT_BEFORE_2099, expiresOn: null });
    });

    it('Neostore: an expired secret is not revived by a value-only PUT', async () => {
      await neoPut(server.adminToken, 'retired', { value: 'old', options: { expiresOn: 946684800 } });
      assert.equal((await neoPut(valueOnly, 'retired', { value: 'new' })).status, 204);
      assert.equal((await neoGet('retired')).status, 404);
    });

    it('Neostore: a value-only key sending a different window is refused (403), the window unchanged', async () => {
      for (const options of [{}, { notBefore: 946684800 }, { expiresOn: '2100-01-01T00:00:00Z' }]) {
        const res = await neoPut(valueOnly, 'guarded', { value: 'v3', options });
        assert.equal(res.status, 403, `${JSON.stringify(options)}: ${res.text}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      }
      assert.deepEqual(await windowOf('guarded'), { notBefore: NOT_BEFORE_2099, expiresOn: null });
      // Restating the window it already has changes nothing, so it is allowed.
      assert.equal(
        (await neoPut(valueOnly, 'guarded', { value: 'v4', options: { notBefore: NOT_BEFORE_2099 } })).status,
        204,
      );
    });

    it('Neostore: a key with secrets:write still replaces the window as the contract says', async () => {
      await neoPut(server.adminToken, 'admin-rotated', {
        value: 'v1',
        options: { notBefore: NOT_BEFORE_2099 },
      });
      assert.equal((await neoPut(server.adminToken, 'admin-rotated', { value: 'v2' })).status, 204);
      const get = await neoGet('admin-rotated');
      assert.equal(get.status, 200);
      assert.equal(get.text, 'v2');
    });

    it('/v1: a value with a window change needs secrets:write; a value alone keeps the window', async () => {
      await neoPut(server.adminToken, 'native', { value: 'v1', options: { notBefore: NOT_BEFORE_2099 } });
      for (const body of [
        { value: 'v2', notBefore: null },
        { value: 'v2', notBefore: '2000-01-01T00:00:00Z' },
        { value: 'v2', expiresOn: '2100-01-01T00:00:00Z' },
      ]) {
        const res = await v1(valueOnlyReader, 'PUT', 'native', body);
        assert.equal(res.status, 403, `${JSON.stringify(body)}: ${res.text}`);
      }
      assert.deepEqual(await windowOf('native'), { notBefore: NOT_BEFORE_2099, expiresOn: null });
      const kept = await v1(valueOnlyReader, 'PUT', 'native', { value: 'v3' });
      assert.equal(kept.status, 200, kept.text);
      assert.equal((kept.json as { notBefore: string }).notBefore, NOT_BEFORE_2099);
      assert.equal((await neoGet('native')).status, 404);
    });
  });
