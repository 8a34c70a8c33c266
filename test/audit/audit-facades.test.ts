import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { generateToken } from '../../src/crypto/tokens.js';
import { EnvsClient } from '../envs/envs-client.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { chainOf, eventsDuring, summary } from './audit-events.js';
import { allAuditRowsText } from '../support/raw-database.js';

/**
 * Every facade's operations, reads and refusals included, append events to the right chain, through
 * real HTTP and the real SQLite file; and no event holds a value, a token or a header.
 */
const VALUES = ['audit-canary-value-1f9e', 'audit-canary-value-2b7c', 'audit-canary-value-3d4a'];
const HEADER_CANARY = 'header-canary-77aa';

describe('audit events of every facade', () => {
  let server: TestServer;
  let admin: string;
  let reader: string;
  let otherTenant: string;
  const tokens: string[] = [];

  before(async () => {
    server = await startTestServer();
    admin = server.adminToken;
    reader = await server.createKey('default', 'reader', ['secrets:read', 'Secrets Store Read']);
    otherTenant = await server.createKey('other', 'admin', ['*']);
    tokens.push(admin, reader, otherTenant);
  });
  after(() => server.close());

  const neo = (method: string, path: string, token: string | undefined, body?: unknown) =>
    request(server.url, method, path, {
      ...(token === undefined ? {} : { token }),
      body,
      headers: { 'x-canary': HEADER_CANARY, 'user-agent': HEADER_CANARY },
    });

  it('Neostore: writes, reads and deletes, each with its actor, request id and client address', async () => {
    let putStatus = 0;
    const events = await eventsDuring(server, 'default', async () => {
      putStatus = (await neo('PUT', '/api/default/secrets/db-password', admin, { value: VALUES[0] })).status;
      const got = await neo('GET', '/api/default/secrets/db-password', admin);
      assert.equal(got.text, VALUES[0]);
      await neo('GET', '/api/default/secrets', admin);
      await neo('PUT', '/api/default/secrets/db-password', admin, { value: VALUES[1] });
      await neo('DELETE', '/api/default/secrets/db-password', admin);
    });
    assert.equal(putStatus, 204);
    // The tenant's first write creates its `default` store: recorded too, in the same transaction.
    const store = await server.runtime.repository.getStoreByName('default', 'default', null);
    assert.deepEqual(summary(events), [
      `store.create store:default/store-id:${store?.id ?? '?'} allowed`,
      'secret.create store:default/secret:db-password allowed',
      'secret.set-value store:default/secret:db-password allowed',
      'secret.reveal store:default/secret:db-password allowed',
      'secret.list store:default allowed',
      'secret.set-value store:default/secret:db-password allowed',
      'secret.delete store:default/secret:db-password allowed',
    ]);
    for (const e of events) {
      assert.equal(e.actor, 'key:admin');
      assert.equal(e.tenantId, 'default');
      assert.equal(e.clientAddress, '127.0.0.1');
      assert.match(e.requestId, /^[0-9a-f-]{36}$/);
    }
    // The change and its events share a transaction, so the first PUT's three events share a request id.
    assert.equal(events[0]?.requestId, events[1]?.requestId);
    assert.equal(events[1]?.requestId, events[2]?.requestId);
    assert.notEqual(events[2]?.requestId, events[3]?.requestId);
  });

  it('Neostore: refusals after authentication are recorded with their reason and the response trace id', async () => {
    await neo('PUT', '/api/default/secrets/kept', admin, { value: VALUES[2] });
    let traceId = '';
    const events = await eventsDuring(server, 'default', async () => {
      const denied = await neo('GET', '/api/default/secrets/kept', reader);
      assert.equal(denied.status, 403);
      traceId = (denied.json as { traceId: string }).traceId;
      assert.equal((await neo('GET', '/api/default/secrets/missing', admin)).status, 404);
      assert.equal((await neo('PUT', '/api/default/secrets/kept', admin, { value: 42 })).status, 400);
      assert.equal((await neo('GET', '/api/default/secrets/bad%20name', admin)).status, 400);
    });
    assert.deepEqual(summary(events), [
      'secret.reveal store:default/secret:kept denied missing_permission',
      'secret.reveal store:default/secret:missing denied secret_not_found',
      'request.refused PUT /api/:tenantId/secrets/:key denied invalid_request',
      'request.refused GET /api/:tenantId/secrets/:key denied invalid_request',
    ]);
    assert.equal(events[0]?.actor, 'key:reader');
    assert.equal(events[0]?.requestId, traceId);
  });

  it('unauthenticated refusals go to the platform chain; another tenant’s key is recorded in its own chain', async () => {
    const defaultBefore = (await chainOf(server, 'default')).length;
    const platform = await eventsDuring(server, '', async () => {
      assert.equal((await neo('GET', '/api/default/secrets', undefined)).status, 401);
      assert.equal((await neo('GET', '/api/default/secrets', generateToken())).status, 401);
      assert.equal((await neo('GET', '/api/default/secrets', 'not-a-token')).status, 401);
    });
    assert.deepEqual(summary(platform), [
      'request.refused GET /api/:tenantId/secrets denied missing_credentials',
      'request.refused GET /api/:tenantId/secrets denied invalid_credentials',
      'request.refused GET /api/:tenantId/secrets denied invalid_credentials',
    ]);
    assert.ok(platform.every((e) => e.actor === 'anonymous'));

    const other = await eventsDuring(server, 'other', async () => {
      assert.equal((await neo('GET', '/api/default/secrets/kept', otherTenant)).status, 403);
    });
    assert.deepEqual(summary(other), [
      'secret.reveal tenant:default/store:default/secret:kept denied other_tenant',
    ]);
    assert.equal((await chainOf(server, 'default')).length, defaultBefore, 'nothing written to default');
  });

  it('Neostore API keys: created, listed, read, updated and deleted; the token never recorded', async () => {
    let created = '';
    const events = await eventsDuring(server, 'default', async () => {
      const res = await neo('POST', '/api/default/admin/apiKeys', admin, {
        name: 'ci',
        permissions: ['secrets:read'],
      });
      created = (res.json as { token: string }).token;
      await neo('GET', '/api/default/admin/apiKeys', admin);
      await neo('GET', '/api/default/admin/apiKeys/ci', admin);
      await neo('PUT', '/api/default/admin/apiKeys/ci', admin, { enabled: false });
      await neo('DELETE', '/api/default/admin/apiKeys/ci', admin);
      await neo('DELETE', '/api/default/admin/apiKeys/ci', admin);
    });
    tokens.push(created);
    assert.deepEqual(summary(events), [
      'apikey.create apikey:ci allowed',
      'apikey.list apikeys allowed',
      'apikey.get apikey:ci allowed',
      'apikey.update apikey:ci allowed',
      'apikey.delete apikey:ci allowed',
      'apikey.delete apikey:ci denied api_key_not_found',
    ]);
  });

  it('Cloudflare: stores and secrets, reads and refusals', async () => {
    const cf = (method: string, path: string, token: string, body?: unknown) =>
      request(server.url, method, `/client/v4/accounts/default/secrets_store${path}`, {
        token,
        auth: 'bearer',
        body,
        headers: { 'x-canary': HEADER_CANARY },
      });
    let storeId = '';
    let secretId = '';
    const events = await eventsDuring(server, 'default', async () => {
      const store = await cf('POST', '/stores', admin, { name: 'cf-store' });
      storeId = (store.json as { result: { id: string } }).result.id;
      const created = await cf('POST', `/stores/${storeId}/secrets`, admin, [
        { name: 'API_TOKEN', value: VALUES[0], scopes: ['workers'] },
      ]);
      secretId = (created.json as { result: { id: string }[] }).result[0]?.id ?? '';
      await cf('GET', `/stores/${storeId}/secrets`, admin);
      await cf('GET', `/stores/${storeId}/secrets/${secretId}`, admin);
      await cf('PATCH', `/stores/${storeId}/secrets/${secretId}`, admin, { value: VALUES[1], comment: 'c' });
      await cf('GET', '/quota', admin);
      assert.equal(
        (
          await cf('POST', `/stores/${storeId}/secrets`, reader, [
            { name: 'X', value: 'v', scopes: ['workers'] },
          ])
        ).status,
        403,
      );
      await cf('DELETE', `/stores/${storeId}/secrets/${secretId}`, admin);
      await cf('DELETE', `/stores/${storeId}`, admin);
    });
    const s = `store-id:${storeId}`;
    assert.deepEqual(summary(events), [
      `store.create store:cf-store/${s} allowed`,
      `secret.create ${s}/secret:API_TOKEN allowed`,
      `secret.list ${s} allowed`,
      `secret.get ${s}/secret-id:${secretId} allowed`,
      `secret.update ${s}/secret-id:${secretId} allowed`,
      `secret.set-value ${s}/secret-id:${secretId} allowed`,
      'secret.quota quota allowed',
      `secret.create ${s}/secret:X denied missing_permission`,
      `secret.delete ${s}/secret-id:${secretId} allowed`,
      `store.delete ${s} allowed`,
    ]);
  });

  it('envs: declare, set a value, read, list and delete', async () => {
    const envs = new EnvsClient(server);
    const events = await eventsDuring(server, 'default', async () => {
      assert.equal(
        (
          await envs.call('POST', '/default/app/envs/prod/secrets', {
            body: { kind: 'Secret', name: 'API_KEY' },
          })
        ).status,
        201,
      );
      assert.equal(
        (
          await envs.call('PUT', '/default/app/envs/prod/secrets/API_KEY/value', {
            body: { value: VALUES[2] },
          })
        ).status,
        200,
      );
      await envs.call('GET', '/default/app/envs/prod/secrets/API_KEY');
      await envs.call('GET', '/default/app/envs/prod/secrets');
      await envs.call('DELETE', '/default/app/envs/prod/secrets/API_KEY');
      assert.equal((await envs.call('GET', '/default/app/envs/prod/secrets', { token: reader })).status, 200);
      assert.equal(
        (
          await envs.call('PUT', '/default/app/envs/prod/secrets/API_KEY/value', {
            token: reader,
            body: { value: 'x' },
          })
        ).status,
        403,
      );
    });
    // One core call per request (issue 14): the environment's store is resolved inside the
    // operation and named as addressed; the first declare creates it, recorded in its transaction.
    const store = await server.runtime.repository.getStoreByName('default', 'app/prod', null);
    assert.deepEqual(summary(events), [
      `store.create store:app/prod/store-id:${store?.id ?? '?'} allowed`,
      'secret.create store:app/prod/secret:API_KEY allowed',
      'secret.set-value store:app/prod/secret:API_KEY allowed',
      'secret.get store:app/prod/secret:API_KEY allowed',
      'secret.list store:app/prod allowed',
      'secret.delete store:app/prod/secret:API_KEY allowed',
      'secret.list store:app/prod allowed',
      'secret.set-value store:app/prod/secret:API_KEY denied missing_permission',
    ]);
  });

  it('envs: a description update is one operation, one event (it was a store lookup, a read and the update)', async () => {
    const envs = new EnvsClient(server);
    const path = '/default/app/envs/staging/secrets';
    assert.equal((await envs.call('POST', path, { body: { kind: 'Secret', name: 'DESC' } })).status, 201);
    const events = await eventsDuring(server, 'default', async () => {
      const res = await envs.call('PUT', `${path}/DESC`, {
        body: { kind: 'Secret', name: 'DESC', description: 'd' },
      });
      assert.equal(res.status, 200, res.text);
    });
    assert.deepEqual(summary(events), ['secret.update store:app/staging/secret:DESC allowed']);
  });

  it('Vault KV: writes, reads, versions, metadata and refusals, each named by mount and path', async () => {
    const kv = (method: string, path: string, token: string | undefined, body?: unknown) =>
      request(server.url, method, `/vault/v1/${path}`, {
        headers: {
          ...(token === undefined ? {} : { 'x-vault-token': token }),
          'x-canary': HEADER_CANARY,
          ...(method === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {}),
        },
        ...(body === undefined ? {} : { body: method === 'PATCH' ? JSON.stringify(body) : body }),
      });
    const events = await eventsDuring(server, 'default', async () => {
      assert.equal((await kv('POST', 'kv/data/app/db', admin, { data: { value: VALUES[0] } })).status, 200);
      assert.equal((await kv('GET', 'kv/data/app/db', admin)).status, 200);
      assert.equal((await kv('PATCH', 'kv/data/app/db', admin, { data: { extra: VALUES[1] } })).status, 200);
      assert.equal((await kv('DELETE', 'kv/data/app/db', admin)).status, 204);
      assert.equal((await kv('POST', 'kv/undelete/app/db', admin, { versions: [2] })).status, 204);
      assert.equal((await kv('POST', 'kv/destroy/app/db', admin, { versions: [1] })).status, 204);
      assert.equal((await kv('POST', 'kv/metadata/app/db', admin, { max_versions: 3 })).status, 204);
      assert.equal((await kv('GET', 'kv/metadata/app/db', admin)).status, 200);
      assert.equal((await kv('GET', 'kv/metadata/app/?list=true', admin)).status, 200);
      assert.equal((await kv('POST', 'kv/config', admin, { max_versions: 5 })).status, 204);
      assert.equal((await kv('GET', 'kv/data/app/db', reader)).status, 403);
      assert.equal((await kv('DELETE', 'kv/metadata/app/db', admin)).status, 204);
    });
    const store = await server.runtime.repository.getStoreByName('default', 'kv', null);
    assert.deepEqual(summary(events), [
      `store.create store:kv/store-id:${store?.id ?? '?'} allowed`,
      'secret.create store:kv/secret:app/db allowed',
      'secret.set-value store:kv/secret:app/db allowed',
      'secret.reveal store:kv/secret:app/db allowed',
      'secret.set-value store:kv/secret:app/db allowed',
      'secret.version.delete store:kv/secret:app/db allowed',
      'secret.version.undelete store:kv/secret:app/db allowed',
      'secret.version.destroy store:kv/secret:app/db allowed',
      'secret.update store:kv/secret:app/db allowed',
      'secret.get store:kv/secret:app/db allowed',
      'secret.list store:kv allowed',
      'store.update store:kv allowed',
      'secret.reveal store:kv/secret:app/db denied missing_permission',
      'secret.delete store:kv/secret:app/db allowed',
    ]);
    const unauthenticated = await eventsDuring(server, '', async () => {
      assert.equal((await kv('GET', 'kv/data/app/db', undefined)).status, 403);
    });
    assert.deepEqual(summary(unauthenticated), [
      'request.refused GET /vault/v1/:mount/data/* denied missing_credentials',
    ]);
  });

  it('no event holds a value, a token or a header, and every chain verifies', async () => {
    const text = await allAuditRowsText(server);
    assert.ok(text.length > 0);
    for (const secret of [...VALUES, ...tokens, HEADER_CANARY]) {
      assert.ok(secret.length > 10);
      assert.ok(!text.includes(secret), `an audit row holds ${secret.slice(0, 12)}…`);
    }
    const checks = await server.runtime.core.audit.verify(OPERATOR);
    assert.ok(checks.length >= 3);
    assert.ok(
      checks.every((c) => c.ok),
      JSON.stringify(checks),
    );
  });
});
