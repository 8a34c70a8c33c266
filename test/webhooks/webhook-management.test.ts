import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Actor, OPERATOR } from '../../src/core/actor.js';
import { ForbiddenError } from '../../src/core/errors.js';
import { grantsOf } from '../../src/core/permissions.js';
import { sendWebhook } from '../../src/webhooks/webhook-sender.js';
import { request } from '../support/http-client.js';
import { storageBytes } from '../support/raw-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { PERMISSIONS } from '../security/auth-matrix-table.js';
import { WebhookReceiver } from './webhook-receiver.js';
import { createStore, createWebhook, logUntil, TENANT } from './webhook-support.js';

/**
 * Managing webhooks: admins only, validated destinations (no server-side request forgery by
 * default), a secret that exists in plaintext only in the answer that creates it, and a delivery log
 * that shows a delivery given up after the retry window. Engine: COFFER_TEST_ENGINE.
 */

const URL_BASE = `/v1/tenants/${TENANT}/webhooks`;
const ID = '0123456789abcdef0123456789abcdef';

describe('webhook management: who may, and where to', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('refuses destinations that are loopback, private, link-local, reserved, credentialed or not http(s)', async () => {
    const refused = [
      'http://127.0.0.1/hook',
      'http://127.1.2.3:8080/hook',
      'http://10.0.0.8/hook',
      'http://172.16.4.4/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/hook',
      'http://0.0.0.0/hook',
      'http://[::1]/hook',
      'http://[fe80::1]/hook',
      'http://[fd00::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://localhost/hook',
      'http://api.localhost/hook',
      'https://user:pass@example.com/hook',
      'ftp://example.com/hook',
      'file:///etc/passwd',
      'https://example.com/hook#fragment',
      'not a url',
    ];
    for (const url of refused) {
      const res = await request(server.url, 'POST', URL_BASE, {
        token: server.adminToken,
        auth: 'bearer',
        body: { url, eventKinds: ['secret.created'] },
      });
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.equal((res.json as { code?: string }).code, 'invalid_webhook', url);
    }
    const unknownKind = await request(server.url, 'POST', URL_BASE, {
      token: server.adminToken,
      auth: 'bearer',
      body: { url: 'https://example.com/hook', eventKinds: ['secret.exploded'] },
    });
    assert.equal(unknownKind.status, 400);
    assert.equal((unknownKind.json as { code?: string }).code, 'invalid_webhook');
    const ok = await request(server.url, 'POST', URL_BASE, {
      token: server.adminToken,
      auth: 'bearer',
      body: { url: 'https://hooks.example.com/coffer?x=1', eventKinds: ['secret.created'] },
    });
    assert.equal(ok.status, 201, ok.text);
    const id = (ok.json as { id: string }).id;
    const update = await request(server.url, 'PUT', `${URL_BASE}/${id}`, {
      token: server.adminToken,
      auth: 'bearer',
      body: { url: 'http://10.1.1.1/', eventKinds: ['secret.created'] },
    });
    assert.equal(update.status, 400, 'an update is checked too');
  });

  it('checks the resolved address at delivery: a name resolving to loopback is refused without connecting', async () => {
    const receiver = await WebhookReceiver.start();
    try {
      const port = new URL(receiver.url).port;
      const refused = await sendWebhook(`http://localhost:${port}/hook`, {}, '{}', {
        timeoutMs: 2000,
        allowPrivate: false,
      });
      assert.equal(refused.ok, false);
      assert.match(refused.ok ? '' : refused.error, /refused/);
      assert.equal(receiver.received.length, 0, 'no connection was made');
      // With private destinations allowed (self-hosted), the same request goes through.
      const allowed = await sendWebhook(`http://localhost:${port}/hook`, {}, '{}', {
        timeoutMs: 2000,
        allowPrivate: true,
      });
      assert.equal(allowed.ok, true);
      assert.equal(receiver.received.length, 1);
    } finally {
      await receiver.close();
    }
  });

  it('is for admins only: every route refuses a key holding every named permission but `*`, other tenants and services', async () => {
    const everything = await server.createKey(TENANT, 'all-but-admin', [...PERMISSIONS]);
    const other = await server.createKey('other', 'admin', ['*']);
    const service = await server.createService('svc');
    const routes: [string, string, unknown?][] = [
      ['GET', URL_BASE],
      ['POST', URL_BASE, { url: 'https://example.com/h', eventKinds: ['secret.created'] }],
      ['GET', `${URL_BASE}/${ID}`],
      ['PUT', `${URL_BASE}/${ID}`, { url: 'https://example.com/h', eventKinds: ['secret.created'] }],
      ['DELETE', `${URL_BASE}/${ID}`],
      ['POST', `${URL_BASE}/${ID}/rotate-secret`],
      ['GET', `${URL_BASE}/${ID}/deliveries`],
    ];
    for (const [method, path, body] of routes) {
      const as = (token: string | undefined) =>
        request(server.url, method, path, {
          ...(token === undefined ? {} : { token, auth: 'bearer' as const }),
          ...(body === undefined ? {} : { body }),
        });
      const missing = await as(undefined);
      assert.equal(missing.status, 401, `${method} ${path}`);
      const notAdmin = await as(everything);
      assert.equal(notAdmin.status, 403, `${method} ${path}: ${notAdmin.text}`);
      assert.equal((notAdmin.json as { code?: string }).code, 'missing_permission');
      const foreign = await as(other);
      assert.equal(foreign.status, 404, `${method} ${path}`);
      assert.equal((foreign.json as { code?: string }).code, 'tenant_not_found');
      const svc = await as(service);
      assert.equal(svc.status, 403, `${method} ${path}`);
    }
    const list = await request(server.url, 'GET', URL_BASE, { token: server.adminToken, auth: 'bearer' });
    assert.equal(list.status, 200);
    const unknown = await request(server.url, 'GET', `${URL_BASE}/${ID}`, {
      token: server.adminToken,
      auth: 'bearer',
    });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.json as { code?: string }).code, 'webhook_not_found');
  });

  it('the core refuses each webhook operation to a key that is not an admin, whatever else it holds', async () => {
    const { core } = server.runtime;
    const created = await core.webhooks.create(OPERATOR, TENANT, {
      url: 'https://example.com/core',
      eventKinds: ['store.created'],
    });
    const actor: Actor = {
      kind: 'api_key',
      tenantId: TENANT,
      keyName: 'k',
      grants: grantsOf([...PERMISSIONS]),
    };
    const input = { url: 'https://example.com/x', eventKinds: ['store.created'] };
    const calls: [string, () => Promise<unknown>][] = [
      ['list', () => core.webhooks.list(actor, TENANT)],
      ['get', () => core.webhooks.get(actor, TENANT, created.id)],
      ['create', () => core.webhooks.create(actor, TENANT, input)],
      ['update', () => core.webhooks.update(actor, TENANT, created.id, input)],
      ['delete', () => core.webhooks.delete(actor, TENANT, created.id)],
      ['rotateSecret', () => core.webhooks.rotateSecret(actor, TENANT, created.id)],
      ['deliveries', () => core.webhooks.deliveries(actor, TENANT, created.id, { limit: 10 })],
    ];
    for (const [name, call] of calls) {
      await assert.rejects(call(), (e: unknown) => e instanceof ForbiddenError, name);
    }
    const still = await core.webhooks.get(OPERATOR, TENANT, created.id);
    assert.equal(still.secretVersion, 1);
    assert.equal(still.url, 'https://example.com/core');
  });

  it('keeps the secret sealed: never in the database, the audit trail or any later answer', async () => {
    const created = await createWebhook(server.url, server.adminToken, {
      url: 'https://example.com/sealed',
      eventKinds: ['store.created'],
    });
    const rotated = await request(server.url, 'POST', `${URL_BASE}/${created.id}/rotate-secret`, {
      token: server.adminToken,
      auth: 'bearer',
    });
    const fresh = (rotated.json as { secret: string }).secret;
    const bytes = await storageBytes(server);
    for (const secret of [created.secret, fresh]) {
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      assert.equal(bytes.indexOf(Buffer.from(secret)), -1, 'the secret text is stored');
      assert.equal(bytes.indexOf(Buffer.from(secret.slice('whsec_'.length))), -1, 'the base64 is stored');
      assert.equal(bytes.indexOf(key), -1, 'the key bytes are stored');
    }
  });
});

describe('webhook deliveries given up', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  before(async () => {
    server = await startTestServer({
      env: {
        COFFER_WEBHOOKS_ALLOW_PRIVATE: 'true',
        COFFER_WEBHOOKS_BACKOFF_MS: '100',
        COFFER_WEBHOOKS_RETRY_SECONDS: '1',
      },
    });
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('are marked failed after the retry window, with the last error in the log; the store moves on', async () => {
    receiver.responder = () => ({ status: 503 });
    const hook = await createWebhook(server.url, server.adminToken, {
      url: receiver.url,
      eventKinds: ['store.created'],
    });
    receiver.secret = hook.secret;
    await createStore(server, 'down');
    const [entry] = await logUntil(server, hook.id, (l) => l[0]?.status === 'failed', 'failed');
    assert.equal(entry?.lastError, 'the receiver answered 503');
    assert.equal(entry?.lastStatus, 503);
    assert.equal(entry?.nextAttemptAt, null);
    assert.ok((entry?.attempts ?? 0) >= 1);
    receiver.responder = () => ({ status: 200 });
    await createStore(server, 'up');
    const log = await logUntil(
      server,
      hook.id,
      (l) => l[0]?.status === 'delivered',
      'the next one delivered',
    );
    assert.equal(log.length, 2);
    const metrics = await server.metrics.render();
    assert.match(metrics, /coffer_webhook_deliveries_total\{outcome="failed"\} [1-9]/);
    assert.match(metrics, /coffer_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
    assert.match(metrics, /coffer_webhook_delivery_lag_seconds_count [1-9]/);
  });
});
