import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CLIENT_OPERATIONS, CofferApiError, CofferClient } from '../../src/index.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string }>>;
}

/** A local server that answers 503 `failures` times, then delegates to `target`. */
async function flakyProxy(
  failures: number,
  target: string,
): Promise<{ url: string; hits: () => number; server: Server }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (hits <= failures) {
      res.writeHead(503, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ status: 503, title: 'Service Unavailable', code: 'unavailable' }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && k !== 'host') headers[k] = v;
      void fetch(`${target}${req.url ?? ''}`, {
        method: req.method ?? 'GET',
        headers,
        body: chunks.length === 0 ? undefined : Buffer.concat(chunks),
      }).then(async (upstream) => {
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'text/plain',
        });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits, server };
}

describe('CofferClient against a live server', () => {
  let server: TestServer;
  let client: CofferClient;

  before(async () => {
    server = await startTestServer();
    client = new CofferClient({ baseUrl: server.url, token: server.adminToken });
  });
  after(() => server.close());

  it('calls only operations that the live /openapi.json has, with the same method, path and operationId', async () => {
    const doc = (await request(server.url, 'GET', '/openapi.json')).json as OpenApiDocument;
    for (const [name, op] of Object.entries(CLIENT_OPERATIONS)) {
      const declared = doc.paths[op.path]?.[op.method.toLowerCase()];
      assert.ok(declared, `${name}: ${op.method} ${op.path} is not in /openapi.json`);
      assert.equal(declared.operationId, op.operationId, name);
    }
    const served = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([, methods]) => Object.values(methods).map((m) => m.operationId));
    assert.deepEqual(
      served.sort(),
      Object.values(CLIENT_OPERATIONS)
        .filter((o) => o.path.startsWith('/v1/'))
        .map((o) => o.operationId)
        .sort(),
      'the client covers /v1',
    );
  });

  it('stores, secrets, reveal, conditional writes and paging through the typed methods', async () => {
    const store = await client.createStore('default', 'api/staging');
    assert.match(store.id, /^[0-9a-f]{32}$/);
    assert.equal((await client.getStore('default', 'api/staging')).id, store.id);
    const created = await client.putSecret(
      'default',
      'api/staging',
      'TOKEN',
      { value: 'client-value-1', scopes: ['ci'] },
      { ifNoneMatch: '*' },
    );
    assert.equal(created.version, 1);
    assert.equal('value' in created, false);
    const updated = await client.putSecret(
      'default',
      store.id,
      'TOKEN',
      { value: 'client-value-2' },
      { ifMatch: 1 },
    );
    assert.equal(updated.version, 2);
    const stale = await client
      .putSecret('default', store.id, 'TOKEN', { value: 'x' }, { ifMatch: 1 })
      .catch((e: unknown) => e);
    assert.ok(stale instanceof CofferApiError);
    assert.equal(stale.status, 412);
    assert.equal(stale.code, 'precondition_failed');
    assert.equal(stale.problem?.status, 412);

    const meta = await client.getSecret('default', 'api/staging', 'TOKEN');
    assert.equal(meta.version, 2);
    assert.equal('value' in meta, false);
    const revealed = await client.getSecret('default', 'api/staging', 'TOKEN', { reveal: true });
    assert.equal(revealed.value, 'client-value-2');
    assert.deepEqual(await client.reveal('default', 'api/staging', ['TOKEN', 'NONE']), {
      secrets: [{ name: 'TOKEN', value: 'client-value-2', version: 2 }],
      missing: ['NONE'],
    });

    for (let i = 0; i < 7; i++) await client.putSecret('default', 'api/staging', `P${i}`, {});
    const page = await client.listSecrets('default', 'api/staging', { prefix: 'P', limit: 3 });
    assert.equal(page.items.length, 3);
    assert.ok(page.nextCursor);
    const names: string[] = [];
    for await (const s of client.allSecrets('default', 'api/staging', { limit: 2 })) names.push(s.name);
    assert.deepEqual(names, ['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'TOKEN']);
    assert.ok(
      (await client.listStores('default', { prefix: 'api/' })).items.some((s) => s.name === 'api/staging'),
    );

    await client.deleteSecret('default', 'api/staging', 'TOKEN', { ifMatch: 2 });
    const gone = await client.getSecret('default', 'api/staging', 'TOKEN').catch((e: unknown) => e);
    assert.ok(gone instanceof CofferApiError);
    assert.equal(gone.status, 404);
    assert.equal(gone.code, 'secret_not_found');
    await client.deleteStore('default', 'api/staging', { force: true });
  });

  it('throws CofferApiError with the ProblemDetails on 401 and on validation errors', async () => {
    const bad = new CofferClient({ baseUrl: server.url, token: 'coffer_nope' });
    const unauth = await bad.listStores('default').catch((e: unknown) => e);
    assert.ok(unauth instanceof CofferApiError);
    assert.equal(unauth.status, 401);
    assert.equal(unauth.code, 'invalid_credentials');
    const invalid = await client.putSecret('default', 'default', 'bad.name', {}).catch((e: unknown) => e);
    assert.ok(invalid instanceof CofferApiError);
    assert.equal(invalid.status, 400);
    assert.ok(invalid.problem?.errors?.name);
  });

  it('retries a 503 with backoff, then succeeds', async () => {
    await client.createStore('default', 'retry');
    await client.putSecret('default', 'retry', 'RETRIED', { value: 'after-503' });
    const proxy = await flakyProxy(2, server.url);
    try {
      const flaky = new CofferClient({
        baseUrl: proxy.url,
        token: server.adminToken,
        retries: 3,
        retryDelayMs: 1,
      });
      const revealed = await flaky.reveal('default', 'retry', ['RETRIED']);
      assert.deepEqual(
        revealed.secrets.map((s) => s.value),
        ['after-503'],
      );
      assert.equal(proxy.hits(), 3);
    } finally {
      proxy.server.close();
    }
  });

  it('gives up after the bounded number of retries with the last 503', async () => {
    const proxy = await flakyProxy(100, server.url);
    try {
      const flaky = new CofferClient({
        baseUrl: proxy.url,
        token: server.adminToken,
        retries: 2,
        retryDelayMs: 1,
      });
      const error = await flaky.listStores('default').catch((e: unknown) => e);
      assert.ok(error instanceof CofferApiError);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'unavailable');
      assert.equal(proxy.hits(), 3, 'one call and two retries');
    } finally {
      proxy.server.close();
    }
  });
});

describe('CofferClient webhooks against a live server', () => {
  let server: TestServer;
  before(async () => {
    // Deliveries go to a closed loopback port: they fail and are retried, nothing leaves the machine.
    server = await startTestServer({ env: { COFFER_WEBHOOKS_ALLOW_PRIVATE: 'true' } });
  });
  after(() => server.close());

  it('manages webhooks through the typed methods; the secret is answered by create and rotate only', async () => {
    const admin = new CofferClient({ baseUrl: server.url, token: server.adminToken });
    const created = await admin.createWebhook('default', {
      url: 'http://127.0.0.1:9/hook',
      eventKinds: ['secret.value-set'],
    });
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(created.secretVersion, 1);
    const listed = await admin.listWebhooks('default');
    assert.deepEqual(
      listed.items.map((w) => w.id),
      [created.id],
    );
    assert.equal(JSON.stringify(listed).includes(created.secret), false);
    const read = await admin.getWebhook('default', created.id);
    assert.equal(read.url, 'http://127.0.0.1:9/hook');
    assert.equal('secret' in read, false);
    const updated = await admin.updateWebhook('default', created.id, {
      url: 'http://127.0.0.1:9/other',
      eventKinds: ['secret.deleted'],
      enabled: false,
    });
    assert.deepEqual(
      [updated.url, updated.eventKinds, updated.enabled],
      ['http://127.0.0.1:9/other', ['secret.deleted'], false],
    );
    const rotated = await admin.rotateWebhookSecret('default', created.id);
    assert.equal(rotated.secretVersion, 2);
    assert.notEqual(rotated.secret, created.secret);
    const deliveries = await admin.listWebhookDeliveries('default', created.id, { limit: 10 });
    assert.ok(Array.isArray(deliveries.items));
    await admin.deleteWebhook('default', created.id);
    await assert.rejects(
      admin.getWebhook('default', created.id),
      (e: unknown) => e instanceof CofferApiError && e.status === 404,
    );
  });
});
