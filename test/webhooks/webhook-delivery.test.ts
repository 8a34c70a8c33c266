import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { LOG_LEAD_PER_STORE, PRESSURE_PASS_MS } from '../../src/webhooks/webhook-dispatcher.js';
import { dbCalls, startTestServer, type TestServer } from '../support/test-server.js';
import { request } from '../support/http-client.js';
import { WebhookReceiver } from './webhook-receiver.js';
import {
  bodyOf,
  createStore,
  createWebhook,
  deliveryLog,
  logUntil,
  putSecret,
  secretNameOf,
  storeNameOf,
  TENANT,
} from './webhook-support.js';

/**
 * Webhook delivery end to end: a real server (COFFER_TEST_ENGINE picks the engine), real changes made
 * over /v1, and a real receiver on a loopback port that verifies each request with the
 * `standardwebhooks` package, as a tenant's receiver would.
 */
const CANARY = 'webhook-canary-value-6d1f';

const ENV = {
  COFFER_WEBHOOKS_ALLOW_PRIVATE: 'true',
  COFFER_WEBHOOKS_BACKOFF_MS: '50',
  COFFER_WEBHOOKS_TIMEOUT_MS: '1000',
};

/**
 * Reports the server's writer busy (as under a sustained stream of writes: SQLite's group commit
 * running) until the returned function is called, at every look or as `look` says; the rest is the
 * real server.
 */
function pressWriter(server: TestServer, look: () => boolean = () => true): () => void {
  const repository = server.runtime.repository;
  const own = Object.getOwnPropertyDescriptor(repository, 'writerBusy');
  let busy = true;
  Object.defineProperty(repository, 'writerBusy', {
    value: () => busy && look(),
    configurable: true,
    writable: true,
  });
  return () => {
    busy = false;
    if (own === undefined) Reflect.deleteProperty(repository, 'writerBusy');
    else Object.defineProperty(repository, 'writerBusy', own);
  };
}

/** Starts the suite's server (this file's ENV) before its tests; closes it, and `receivers`, after. */
function serverForSuite(started: (server: TestServer) => void, receivers: WebhookReceiver[]): void {
  let server: TestServer | undefined;
  before(async () => {
    server = await startTestServer({ env: ENV });
    started(server);
  });
  after(async () => {
    await server?.close();
    for (const r of receivers) await r.close();
  });
}

/** A webhook of `secret.value-set` on `store` (created here) to `r`, which verifies with its secret. */
async function hookOnStore(server: TestServer, r: WebhookReceiver, store: string): Promise<void> {
  const hook = await createWebhook(server.url, server.adminToken, {
    url: r.url,
    eventKinds: ['secret.value-set'],
    stores: [store],
  });
  r.secret = hook.secret;
  await createStore(server, store);
}

/**
 * With the server's writer pressed (at every look, or as `look` says): four changes of a store (made
 * here) reach `r` one entry a pass, a pass a second; once the writer is idle, the rest, each once,
 * in order.
 */
async function deliveredAtPressurePace(
  server: TestServer,
  r: WebhookReceiver,
  store: string,
  look?: () => boolean,
): Promise<void> {
  const arrivals: number[] = [];
  r.responder = () => {
    arrivals.push(Date.now());
    return { status: 204 };
  };
  await hookOnStore(server, r, store);
  const release = pressWriter(server, look);
  const changes = 4;
  try {
    for (let i = 1; i <= changes; i++) {
      assert.equal(await putSecret(server, store, 'P', `v${i}`), i === 1 ? 201 : 200);
    }
    await r.until(() => r.delivered().length >= 3, 'three deliveries while the writer is busy');
    const [first, second] = arrivals.slice(1, 3).map((t, i) => t - (arrivals[i] ?? t));
    // One entry a pass, a pass a second (lower bounds: a slow machine only spaces them further). The
    // first pass also claimed the lease and copied the changes (two commits) before its attempt,
    // so the first gap can be shorter by their time.
    const gaps = `deliveries ${first} and ${second} ms apart`;
    assert.ok((first ?? 0) >= PRESSURE_PASS_MS / 2, gaps);
    assert.ok((second ?? 0) >= PRESSURE_PASS_MS * 0.8, gaps);
  } finally {
    release();
  }
  await restArriveInOrder(r, changes);
}

/** Once the writer is idle: all `changes` versions reach `r`, each once, in order, and verify. */
async function restArriveInOrder(r: WebhookReceiver, changes: number): Promise<void> {
  await r.until(() => r.delivered().length === changes, 'the rest once the writer is idle');
  assert.deepEqual(
    r.delivered().map((d) => bodyOf(d.body).data.version),
    Array.from({ length: changes }, (_, i) => i + 1),
    'each once, in order',
  );
  assert.ok(r.received.every((x) => x.verified));
}

describe('webhook deliveries', () => {
  let server: TestServer;
  const receivers: WebhookReceiver[] = [];
  const receiver = async () => {
    const r = await WebhookReceiver.start();
    receivers.push(r);
    return r;
  };

  /** A webhook of `eventKinds` on `stores` (created here) to `r`, which verifies with its secret. */
  const hookOn = async (r: WebhookReceiver, eventKinds: string[], stores: string[]) => {
    const hook = await createWebhook(server.url, server.adminToken, { url: r.url, eventKinds, stores });
    r.secret = hook.secret;
    for (const store of stores) await createStore(server, store);
    return hook;
  };

  serverForSuite((started) => (server = started), receivers);

  it('are signed as Standard Webhooks say: the standardwebhooks package verifies each one, and no value is sent', async () => {
    const r = await receiver();
    const hook = await createWebhook(server.url, server.adminToken, {
      url: r.url,
      eventKinds: ['store.created', 'secret.created', 'secret.value-set'],
    });
    assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(hook.secret.slice('whsec_'.length), 'base64').length, 32);
    r.secret = hook.secret;
    await createStore(server, 'signed');
    assert.equal(await putSecret(server, 'signed', 'DB_PASSWORD', CANARY), 201);
    await r.until(() => r.delivered().length >= 3, 'three deliveries');
    const delivered = r.delivered();
    assert.deepEqual(
      delivered.map((d) => bodyOf(d.body).type),
      ['store.created', 'secret.created', 'secret.value-set'],
    );
    for (const d of r.received) {
      assert.equal(d.verified, true, d.verifyError ?? '');
      assert.ok(!d.body.includes(CANARY), 'a delivery carried the value');
      assert.match(d.signature, /^v1,[A-Za-z0-9+/]+=*$/);
    }
    assert.equal(storeNameOf(delivered[0]?.body ?? '{}'), 'signed');
    assert.equal(secretNameOf(delivered[1]?.body ?? '{}'), 'DB_PASSWORD');
    assert.equal(bodyOf(delivered[0]?.body ?? '{}').data.tenant, TENANT);
    // The verification means something: another secret, or a changed body, is refused.
    const first = delivered[0];
    assert.ok(first !== undefined);
    const headers = {
      'webhook-id': first.id,
      'webhook-timestamp': first.timestamp,
      'webhook-signature': first.signature,
    };
    assert.throws(() =>
      new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(first.body, headers),
    );
    assert.throws(() => new Webhook(hook.secret).verify(`${first.body} `, headers));
    const log = await logUntil(
      server,
      hook.id,
      (l) => l.length === 3 && l.every((e) => e.status === 'delivered'),
      'the log',
    );
    assert.deepEqual(
      log.map((e) => [e.status, e.attempts, e.lastError]),
      [
        ['delivered', 1, null],
        ['delivered', 1, null],
        ['delivered', 1, null],
      ],
    );
    assert.deepEqual(
      log.map((e) => e.eventId).reverse(),
      delivered.map((d) => d.id),
    );
  });

  it('are retried after 500s, with the same id, until the receiver takes them', async () => {
    const r = await receiver();
    r.responder = (n) => ({ status: n < 2 ? 500 : 200 });
    const hook = await createWebhook(server.url, server.adminToken, {
      url: r.url,
      eventKinds: ['store.created'],
    });
    r.secret = hook.secret;
    await createStore(server, 'retried');
    await r.until(() => r.delivered().length === 1, 'the delivery');
    assert.deepEqual(
      r.received.map((x) => x.answered),
      [500, 500, 200],
    );
    assert.equal(new Set(r.received.map((x) => x.id)).size, 1, 'one event, three attempts');
    assert.ok(r.received.every((x) => x.verified));
    const [entry] = await logUntil(server, hook.id, (l) => l[0]?.status === 'delivered', 'delivered');
    assert.equal(entry?.attempts, 3);
    assert.equal(entry?.lastError, null);
    assert.equal(entry?.lastStatus, 200);
  });

  it('are retried after a timeout', async () => {
    const r = await receiver();
    r.responder = (n) => (n === 0 ? { status: 200, delayMs: 3000 } : { status: 204 });
    const hook = await createWebhook(server.url, server.adminToken, {
      url: r.url,
      eventKinds: ['store.created'],
    });
    r.secret = hook.secret;
    await createStore(server, 'slow');
    const [entry] = await logUntil(server, hook.id, (l) => l[0]?.status === 'delivered', 'delivered');
    assert.equal(entry?.attempts, 2, 'the first attempt timed out and was counted');
    assert.ok(r.received.length >= 2);
    assert.equal(new Set(r.received.map((x) => x.id)).size, 1);
  });

  it('send nothing for a change that did not commit', async () => {
    const r = await receiver();
    await hookOn(
      r,
      ['store.created', 'secret.created', 'secret.value-set', 'secret.metadata-changed'],
      ['rollback'],
    );
    assert.equal(await putSecret(server, 'rollback', 'A', 'one'), 201);
    // A conditional write whose precondition fails: the transaction rolls back.
    assert.equal(await putSecret(server, 'rollback', 'A', 'two', { 'if-match': '"99"' }), 412);
    // A store name taken: refused inside the transaction.
    const taken = await request(server.url, 'POST', `/v1/tenants/${TENANT}/stores`, {
      token: server.adminToken,
      auth: 'bearer',
      body: { name: 'rollback' },
    });
    assert.equal(taken.status, 409);
    assert.equal(await putSecret(server, 'rollback', 'B', 'three'), 201);
    await r.until(
      () =>
        r.delivered().some((d) => secretNameOf(d.body) === 'B' && bodyOf(d.body).type === 'secret.value-set'),
      'B',
    );
    assert.deepEqual(
      r.delivered().map((d) => `${bodyOf(d.body).type} ${secretNameOf(d.body) ?? storeNameOf(d.body) ?? ''}`),
      [
        'store.created rollback',
        'secret.created A',
        'secret.value-set A',
        'secret.created B',
        'secret.value-set B',
      ],
    );
  });

  it('keep the order of changes per store, through retries', async () => {
    const r = await receiver();
    // Every third request fails: a store's next change must wait for the one before it.
    r.responder = (n) => ({ status: n % 3 === 1 ? 500 : 200 });
    await hookOn(r, ['secret.created'], ['order-1', 'order-2']);
    const names = Array.from({ length: 12 }, (_, i) => `S${String(i).padStart(2, '0')}`);
    for (const name of names) {
      assert.equal(await putSecret(server, 'order-1', name, 'x'), 201);
      assert.equal(await putSecret(server, 'order-2', name, 'y'), 201);
    }
    await r.until(() => r.delivered().length === 24, 'all 24 deliveries');
    for (const store of ['order-1', 'order-2']) {
      const seen = r
        .delivered()
        .filter((d) => storeNameOf(d.body) === store)
        .map((d) => secretNameOf(d.body));
      assert.deepEqual(seen, names, store);
    }
    assert.ok(
      r.received.some((x) => x.answered === 500),
      'some attempts failed and were retried',
    );
    // Deliveries reuse kept-alive connections (a handshake per delivery cost more than the delivery).
    assert.ok(
      r.connections <= r.received.length / 2,
      `${r.received.length} requests over ${r.connections} connections`,
    );
  });

  it("of a store with a backlog wait in the feed, not in the log; another store's go out meanwhile; none is lost", async () => {
    const r = await receiver();
    let down = true;
    // The receiver refuses lead-a's deliveries until told otherwise: that store's changes pile up.
    r.responder = (_n, body) => ({ status: down && storeNameOf(body) === 'lead-a' ? 503 : 204 });
    const hook = await hookOn(r, ['secret.value-set'], ['lead-a', 'lead-b']);
    const changes = LOG_LEAD_PER_STORE + 30;
    for (let i = 1; i <= changes; i++) {
      const status = await putSecret(server, 'lead-a', 'A', `v${i}`);
      assert.ok(status === 200 || status === 201, String(status));
    }
    // Two attempts begun after the last change committed: a pass has read the whole feed since.
    const seen = r.received.length;
    await r.until(() => r.received.length >= seen + 2, 'two more attempts');
    const [newest] = await deliveryLog(server, hook.id);
    assert.equal(
      newest?.n,
      LOG_LEAD_PER_STORE,
      'as many entries as the bound; the other changes wait in the feed',
    );
    // A change of another store, after all of those: not held up behind them.
    assert.equal(await putSecret(server, 'lead-b', 'B', 'b'), 201);
    const ofStore = (store: string) => r.delivered().filter((d) => storeNameOf(d.body) === store);
    await r.until(() => ofStore('lead-b').length === 1, "lead-b's change");
    assert.equal(ofStore('lead-a').length, 0, 'lead-a is still refused');
    down = false;
    await r.until(() => ofStore('lead-a').length === changes, 'every change of lead-a', 60_000);
    assert.deepEqual(
      ofStore('lead-a').map((d) => bodyOf(d.body).data.version),
      Array.from({ length: changes }, (_, i) => i + 1),
      'all of them, once each, in order',
    );
    assert.ok(r.received.every((x) => x.verified));
  });

  it('of one store go out several in a pass while the server has room, in order, not one a pass (20 a second)', async () => {
    const r = await receiver();
    let release = () => undefined as void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first delivery is held until the burst below has committed: the rest is then in the feed.
    r.responder = (n) => (n === 0 ? { status: 204, hold: held } : { status: 204 });
    await hookOn(r, ['secret.value-set'], ['burst']);
    const changes = 40;
    assert.equal(await putSecret(server, 'burst', 'B', 'v1'), 201);
    await r.until(() => r.received.length === 1, 'the first delivery (held)');
    for (let i = 2; i <= changes; i++) assert.equal(await putSecret(server, 'burst', 'B', `v${i}`), 200);
    // Passes: each looks the webhooks up once (listActiveWebhooks); none starts while one is held.
    const passes = async () => (await dbCalls(server)).get('listActiveWebhooks') ?? 0;
    const before = await passes();
    release();
    await r.until(() => r.delivered().length === changes, 'every change of the burst');
    const taken = (await passes()) - before;
    assert.deepEqual(
      r.delivered().map((d) => bodyOf(d.body).data.version),
      Array.from({ length: changes }, (_, i) => i + 1),
      'each once, in order',
    );
    assert.ok(r.received.every((x) => x.verified));
    // One entry a pass would take a pass per delivery after the first.
    assert.ok(taken < (changes - 1) / 3, `${changes - 1} deliveries took ${taken} passes`);
  });

  it('yield to writes waiting for the writer: a pass a second, one entry a store; once they ease, the rest, in order', async () => {
    await deliveredAtPressurePace(server, await receiver(), 'pressed');
  });

  it("while writes wait for the writer, a store's change still goes out past another store held back at the bound", async () => {
    const r = await receiver();
    let down = true;
    r.responder = (_n, body) => ({ status: down && storeNameOf(body) === 'pressed-a' ? 503 : 204 });
    await hookOn(r, ['secret.value-set'], ['pressed-a', 'pressed-b']);
    for (let i = 1; i <= LOG_LEAD_PER_STORE + 30; i++) {
      const status = await putSecret(server, 'pressed-a', 'A', `v${i}`);
      assert.ok(status === 200 || status === 201, String(status));
    }
    const release = pressWriter(server);
    try {
      // Behind pressed-a's held-back changes in the feed: found by the look-ahead (one read a pass).
      assert.equal(await putSecret(server, 'pressed-b', 'B', 'b'), 201);
      await r.until(
        () => r.delivered().some((d) => storeNameOf(d.body) === 'pressed-b'),
        "pressed-b's change, the writer still busy",
      );
    } finally {
      release();
      down = false;
    }
  });

  it('of a store at the bound that delivers one entry: its next change does not pull its whole backlog into the log', async () => {
    const r = await receiver();
    let accept = 0;
    // lead-c's deliveries are refused, except as many as `accept` allows.
    r.responder = () => {
      if (accept === 0) return { status: 503 };
      accept--;
      return { status: 204 };
    };
    const hook = await hookOn(r, ['secret.value-set'], ['lead-c']);
    const changes = LOG_LEAD_PER_STORE + 30;
    for (let i = 1; i <= changes; i++) {
      const status = await putSecret(server, 'lead-c', 'C', `v${i}`);
      assert.ok(status === 200 || status === 201, String(status));
    }
    let seen = r.received.length;
    await r.until(() => r.received.length >= seen + 2, 'two more attempts');
    assert.equal((await deliveryLog(server, hook.id))[0]?.n, LOG_LEAD_PER_STORE);
    // One entry delivered: the store is one below the bound, and still has 30 changes in the feed.
    accept = 1;
    await r.until(() => r.delivered().length === 1, 'one delivery');
    // A change after all of them: the dispatcher looks past the held-back changes and finds it.
    assert.equal(await putSecret(server, 'lead-c', 'C', `v${changes + 1}`), 200);
    seen = r.received.length;
    await r.until(() => r.received.length >= seen + 2, 'two more attempts');
    const [newest] = await deliveryLog(server, hook.id);
    // Copies of a store's changes come in chunks once it is down to half the bound (not one per
    // delivery), and a change of that same store is no reason to copy everything before it.
    assert.equal(newest?.n, LOG_LEAD_PER_STORE, 'the backlog stayed in the feed');
    accept = Number.MAX_SAFE_INTEGER;
    await r.until(() => r.delivered().length === changes + 1, 'every change', 60_000);
    assert.deepEqual(
      r.delivered().map((d) => bodyOf(d.body).data.version),
      Array.from({ length: changes + 1 }, (_, i) => i + 1),
      'all of them, once each, in order',
    );
  });

  it('of a store with a backlog past the bound: once it has room, the backlog comes in chunks, the bound kept', async () => {
    const r = await receiver();
    let down = true;
    let accept = 0;
    // Down, then up for LOG_LEAD_PER_STORE / 2 + 1 deliveries (the store has room again), then
    // down until a further change has committed, then up.
    r.responder = () => {
      if (!down) return { status: 204 };
      if (accept === 0) return { status: 503 };
      accept--;
      return { status: 204 };
    };
    const hook = await hookOn(r, ['secret.value-set'], ['lead-d']);
    const changes = LOG_LEAD_PER_STORE * 3;
    for (let i = 1; i <= changes; i++) {
      const status = await putSecret(server, 'lead-d', 'D', `v${i}`);
      assert.ok(status === 200 || status === 201, String(status));
    }
    const seen = r.received.length;
    await r.until(() => r.received.length >= seen + 2, 'two more attempts');
    assert.equal((await deliveryLog(server, hook.id))[0]?.n, LOG_LEAD_PER_STORE, 'the log at the bound');
    // Half the bound and one delivered: the store has room. A change after all of the backlog is no
    // reason to copy the whole backlog into the log: it comes in chunks that keep to the bound.
    accept = LOG_LEAD_PER_STORE / 2 + 1;
    await r.until(() => r.delivered().length === LOG_LEAD_PER_STORE / 2 + 1, 'half the bound delivered');
    assert.equal(await putSecret(server, 'lead-d', 'D', `v${changes + 1}`), 200);
    const pendingNow = async () => ((await deliveryLog(server, hook.id))[0]?.n ?? 0) - r.delivered().length;
    const before = r.received.length;
    await r.until(() => r.received.length >= before + 2, 'two more attempts');
    const largestHeld = await pendingNow();
    down = false;
    let largest = largestHeld;
    for (const deadline = Date.now() + 60_000; r.delivered().length < changes + 1;) {
      largest = Math.max(largest, await pendingNow());
      assert.ok(Date.now() < deadline, `${r.delivered().length} of ${changes + 1} delivered after 60 s`);
      await sleep(50);
    }
    assert.deepEqual(
      r.delivered().map((d) => bodyOf(d.body).data.version),
      Array.from({ length: changes + 1 }, (_, i) => i + 1),
      'all of them, once each, in order',
    );
    assert.ok(largestHeld <= LOG_LEAD_PER_STORE, `pending after the change: ${largestHeld}`);
    assert.ok(largest <= LOG_LEAD_PER_STORE + 1, `at most the bound pending at a time, saw ${largest}`);
  });

  it('rotating the secret: new deliveries verify with the new secret only; no answer shows a secret again', async () => {
    const r = await receiver();
    const hook = await createWebhook(server.url, server.adminToken, {
      url: r.url,
      eventKinds: ['store.created'],
    });
    const auth = { token: server.adminToken, auth: 'bearer' as const };
    const rotated = await request(
      server.url,
      'POST',
      `/v1/tenants/${TENANT}/webhooks/${hook.id}/rotate-secret`,
      auth,
    );
    assert.equal(rotated.status, 200, rotated.text);
    const fresh = (rotated.json as { secret: string; secretVersion: number }).secret;
    assert.equal((rotated.json as { secretVersion: number }).secretVersion, 2);
    assert.notEqual(fresh, hook.secret);
    r.secret = hook.secret;
    await createStore(server, 'rotated');
    await r.until(() => r.received.length >= 1, 'a delivery');
    assert.equal(r.received[0]?.verified, false, 'the old secret no longer verifies');
    r.secret = fresh;
    await createStore(server, 'rotated-2');
    await r.until(() => r.received.some((x) => x.verified), 'a delivery verified with the new secret');

    const answers = [
      await request(server.url, 'GET', `/v1/tenants/${TENANT}/webhooks`, auth),
      await request(server.url, 'GET', `/v1/tenants/${TENANT}/webhooks/${hook.id}`, auth),
      await request(server.url, 'PUT', `/v1/tenants/${TENANT}/webhooks/${hook.id}`, {
        ...auth,
        body: { url: r.url, eventKinds: ['store.created', 'store.deleted'] },
      }),
      await request(server.url, 'GET', `/v1/tenants/${TENANT}/webhooks/${hook.id}/deliveries`, auth),
      await request(server.url, 'GET', `/api/${TENANT}/audit`, auth),
      await request(server.url, 'GET', '/openapi.json'),
    ];
    for (const a of answers) {
      assert.ok(a.status < 300, a.text.slice(0, 200));
      for (const s of [hook.secret, fresh]) {
        assert.ok(!a.text.includes(s.slice('whsec_'.length)), 'a secret appeared in an answer');
      }
    }
    const listed = answers[0]?.json as { items: Record<string, unknown>[] };
    assert.ok(listed.items.every((w) => !('secret' in w)));
  });
});

describe('webhook deliveries when writes begin during a pass', () => {
  // A server of its own: the first suite's webhooks and their passes do not run beside these.
  let server: TestServer;
  const receivers: WebhookReceiver[] = [];
  serverForSuite((started) => (server = started), receivers);

  it("stop a store's chain of entries at once: its next entry waits for a pass a second, and all arrive in order", async () => {
    const r = await WebhookReceiver.start();
    receivers.push(r);
    let unhold = () => undefined as void;
    const held = new Promise<void>((resolve) => {
      unhold = resolve;
    });
    const writes: { release: (() => void) | null } = { release: null };
    const arrivals: number[] = [];
    r.responder = (n) => {
      arrivals.push(Date.now());
      // The first delivery is held until the rest has committed: the next pass copies them and
      // delivers them as a chain, beginning with the writer idle.
      if (n === 0) return { status: 204, hold: held };
      // The writes begin while that pass delivers the store's first entry of the chain.
      if (n === 1) writes.release = pressWriter(server);
      return { status: 204 };
    };
    await hookOnStore(server, r, 'midpass');
    const changes = 4;
    assert.equal(await putSecret(server, 'midpass', 'M', 'v1'), 201);
    await r.until(() => r.received.length === 1, 'the first delivery (held)');
    for (let i = 2; i <= changes; i++) assert.equal(await putSecret(server, 'midpass', 'M', `v${i}`), 200);
    unhold();
    try {
      await r.until(() => r.delivered().length >= 3, 'three deliveries');
      const gap = (arrivals[2] ?? 0) - (arrivals[1] ?? 0);
      // Without the writes, the chain would have sent the third right after the second.
      assert.ok(gap >= PRESSURE_PASS_MS / 2, `the third delivery came ${gap} ms after the second`);
    } finally {
      writes.release?.();
    }
    await restArriveInOrder(r, changes);
  });

  it('take a writer busy at most of their looks as busy: idle instants between batches do not bring back the full pace', async () => {
    const r = await WebhookReceiver.start();
    receivers.push(r);
    // A stream of writes as the worker sees it: busy, busy, then idle between two batches.
    let looks = 0;
    await deliveredAtPressurePace(server, r, 'flicker', () => looks++ % 3 !== 2);
  });

  it('keep their pace when the writer is busy now and then: a few writes a second do not hold them at a pass a second', async () => {
    const r = await WebhookReceiver.start();
    receivers.push(r);
    const arrivals: number[] = [];
    r.responder = () => {
      arrivals.push(Date.now());
      return { status: 204 };
    };
    await hookOnStore(server, r, 'now-and-then');
    // Busy at one look in five.
    let looks = 0;
    const release = pressWriter(server, () => looks++ % 5 === 0);
    const changes = 4;
    try {
      for (let i = 1; i <= changes; i++) {
        assert.equal(await putSecret(server, 'now-and-then', 'N', `v${i}`), i === 1 ? 201 : 200);
      }
      await r.until(() => r.delivered().length === changes, 'every change');
    } finally {
      release();
    }
    const took = (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0);
    // At a pass a second, the last would come about three seconds after the first.
    assert.ok(took < 2 * PRESSURE_PASS_MS, `${changes} deliveries took ${took} ms`);
    assert.deepEqual(
      r.delivered().map((d) => bodyOf(d.body).data.version),
      Array.from({ length: changes }, (_, i) => i + 1),
    );
  });
});
