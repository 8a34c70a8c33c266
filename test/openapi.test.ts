import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from './support/http-client.js';
import { startTestServer, type TestServer } from './support/test-server.js';

describe('/openapi.json and health', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('is generated from the route schemas and lists the Neostore paths with their operations', async () => {
    const res = await request(server.url, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.json as {
      openapi: string;
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    assert.match(doc.openapi, /^3\./);
    const ops = (path: string) =>
      Object.fromEntries(Object.entries(doc.paths[path] ?? {}).map(([m, o]) => [m, o.operationId]));
    assert.deepEqual(ops('/api/{tenantId}/secrets'), { get: 'listSecretKeys' });
    assert.deepEqual(ops('/api/{tenantId}/secrets/{key}'), {
      get: 'getSecretValue',
      put: 'setSecret',
      delete: 'deleteSecret',
    });
    assert.deepEqual(ops('/api/{tenantId}/admin/apiKeys'), { get: 'listApiKeys', post: 'createApiKey' });
    assert.deepEqual(ops('/api/{tenantId}/admin/apiKeys/{keyName}'), {
      get: 'getApiKey',
      put: 'updateApiKey',
      delete: 'deleteApiKey',
    });
  });

  it('/healthz and /readyz answer without credentials', async () => {
    assert.deepEqual((await request(server.url, 'GET', '/healthz')).json, { status: 'ok' });
    assert.deepEqual((await request(server.url, 'GET', '/readyz')).json, { status: 'ready' });
  });

  it('/readyz is 503 when the database is gone', async () => {
    const broken = await startTestServer();
    await broken.runtime.repository.close();
    const res = await request(broken.url, 'GET', '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(res.json, { status: 'unavailable' });
    await broken.close();
  });
});
