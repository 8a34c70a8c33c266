import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { ChangeFeed, type FeedReads } from '../../src/core/change-feed.js';
import type { FeedPosition } from '../../src/core/change-events.js';
import type { AuditQuery } from '../../src/core/model.js';
import { request } from '../support/http-client.js';
import { pruneAuditEvents } from '../support/raw-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { WebhookReceiver } from '../webhooks/webhook-receiver.js';
import { createWebhook, secretNameOf } from '../webhooks/webhook-support.js';
import { EventStream } from './event-stream-client.js';

const T = 'default';

/**
 * The change streams and the webhook worker read one tenant's feed at different positions near its
 * heads: each audit event is read from the database and decoded once, into the feed's tail of the
 * chain, and later reads of that range (at any position in it, any limit) take it from there
 * (issue 19: the second read of the feed was a fifth of what 100 subscribers and 10 webhooks cost a
 * write). A real server and real HTTP writes; the feed under test counts its reads of the database.
 */
describe('change feed: one read shared by readers at different positions', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { COFFER_WEBHOOKS_ALLOW_PRIVATE: 'true' } });
  });
  after(async () => {
    await server.close();
  });

  /**
   * A feed over the server's database that counts the events it reads there; `commits`: fed the
   * server's own commits (AuditTrail.onCommitted) as the server's feed is, else woken by nobody.
   */
  const countingFeed = (tailKeep?: number, commits = false) => {
    const repository = server.runtime.repository;
    const counts = { reads: 0, events: 0, queries: [] as AuditQuery[] };
    const reads: FeedReads = {
      listAuditChains: (filter) => repository.listAuditChains(filter),
      getAuditHead: (chainId) => repository.getAuditHead(chainId),
      listAuditEvents: async (query) => {
        counts.reads++;
        counts.queries.push(query);
        const events = await repository.listAuditEvents(query);
        counts.events += events.length;
        return events;
      },
    };
    // Woken by nobody: the test reads when it wants to.
    const feed = new ChangeFeed({
      reads,
      commits: commits ? server.runtime.core.auditTrail : { onCommitted: () => () => undefined },
      pollMs: 3_600_000,
      ...(tailKeep === undefined ? {} : { tailKeep }),
    });
    return { feed, counts };
  };

  /** A write over HTTP (the admin key's tenant), else through the core as the operator. */
  const put = async (tenant: string, name: string, value: string) => {
    if (tenant !== T) {
      await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: tenant, name, value });
      return;
    }
    const res = await request(server.url, 'PUT', `/api/${tenant}/secrets/${name}`, {
      token: server.adminToken,
      body: { value },
    });
    assert.ok(res.status < 300, `PUT ${name}: ${res.status}`);
  };

  it('a read inside the range another read decoded costs no database read, and gives the same events', async () => {
    const { feed, counts } = countingFeed();
    const plain = countingFeed();
    try {
      const start = await feed.head(T);
      const stop = feed.watchTenant(T, () => undefined);
      for (let i = 0; i < 6; i++) await put(T, `shared-${i}`, `v${i}`);

      // The streams' read (at the heads they stood at, FEED_READ_LIMIT).
      const first = await feed.read(T, start);
      assert.equal(first.resync, false);
      const names = first.events.filter((e) => e.kind === 'secret.value-set').map((e) => e.secret?.name);
      assert.deepEqual(
        names,
        [0, 1, 2, 3, 4, 5].map((i) => `shared-${i}`),
      );
      const fromDatabase = counts.reads;
      assert.ok(fromDatabase >= 1);

      // The webhook worker's reads: its own limit, the same range, then from a position inside it.
      const again = await feed.read(T, start, 100);
      assert.equal(counts.reads, fromDatabase, 'the same range again: from the tail');
      assert.equal(again.events.length, first.events.length);
      again.events.forEach((e, i) => assert.equal(e, first.events[i], 'the very same event objects'));
      const middle = first.events[3];
      assert.ok(middle !== undefined);
      const inside = decodeId(middle.id);
      const rest = await feed.read(T, inside);
      assert.equal(counts.reads, fromDatabase, 'a position inside the range: from the tail');
      assert.deepEqual(
        rest.events.map((e) => e.id),
        first.events.slice(4).map((e) => e.id),
      );
      assert.deepEqual(encodeKeys(rest.position), encodeKeys(first.position));

      // What a feed without a tail reads from the database is the same, ids included.
      const direct = await plain.feed.read(T, start);
      assert.deepEqual(direct.events, first.events);
      assert.deepEqual((await plain.feed.read(T, inside)).events, rest.events);

      // A later write: only what is past the tail is read from the database.
      const before = counts.events;
      await put(T, 'shared-later', 'x');
      const later = await feed.read(T, first.position, 100);
      assert.ok(later.events.some((e) => e.secret?.name === 'shared-later'));
      const fromStart = await feed.read(T, start);
      assert.equal(fromStart.events.at(-1)?.secret?.name, 'shared-later');
      assert.ok(counts.events - before <= 2, `${counts.events - before} events read again`);
      stop();
    } finally {
      feed.close();
      plain.feed.close();
    }
  });

  it('a limit cuts a read from the tail where it cuts one from the database', async () => {
    const { feed, counts } = countingFeed();
    const plain = countingFeed();
    try {
      const start = await feed.head(T);
      const stop = feed.watchTenant(T, () => undefined);
      for (let i = 0; i < 4; i++) await put(T, `limited-${i}`, 'v');
      await feed.read(T, start);
      const reads = counts.reads;
      let position: FeedPosition = start;
      let viaTail = 0;
      let viaDatabase = 0;
      for (let more = true; more;) {
        const a = await feed.read(T, position, 3);
        const b = await plain.feed.read(T, position, 3);
        assert.deepEqual(a.events, b.events);
        assert.deepEqual(encodeKeys(a.position), encodeKeys(b.position));
        assert.equal(a.more, b.more);
        viaTail += a.events.length;
        viaDatabase += b.events.length;
        position = a.position;
        more = a.more;
      }
      assert.equal(viaTail, viaDatabase);
      assert.equal(viaTail, 8, 'four secrets created and set');
      assert.equal(counts.reads, reads, 'every read of the range came from the tail');
      stop();
    } finally {
      feed.close();
      plain.feed.close();
    }
  });

  it('a tenant nobody watches keeps no tail; a reader before the tail reads the database, and resyncs after pruning', async () => {
    const tenant = 'tail-pruned';
    const { feed, counts } = countingFeed();
    try {
      const start = await feed.head(tenant);
      await put(tenant, 'early', 'a');
      // Not watched: every read goes to the database.
      await feed.read(tenant, start);
      const unwatched = counts.reads;
      await feed.read(tenant, start);
      assert.equal(counts.reads, unwatched * 2);

      const stop = feed.watchTenant(tenant, () => undefined);
      const watched = await feed.head(tenant);
      await put(tenant, 'late', 'b');
      const late = await feed.read(tenant, watched);
      assert.ok(late.events.some((e) => e.secret?.name === 'late'));
      // The tail holds what came after `watched`. Events before it are pruned: a reader from the
      // very beginning reads the database and resynchronises.
      await pruneAuditEvents(server, tenant, 1);
      const origin = new Map([...watched].map(([chain]) => [chain, 0]));
      const old = await feed.read(tenant, origin);
      assert.equal(old.resync, true);
      // A reader at the tail's start gets what the tail holds (committed changes), not a resync.
      const inside = await feed.read(tenant, watched);
      assert.equal(inside.resync, false);
      assert.deepEqual(inside.events, late.events);
      stop();
      // The last watcher gone, so is the tail: the same read goes to the database again.
      const reads = counts.reads;
      await feed.read(tenant, watched);
      assert.ok(counts.reads > reads);
    } finally {
      feed.close();
    }
  });

  it('a reader far behind asks the database for a range of seqs no wider than its limit', async () => {
    // A limit alone left the plan to the database: PostgreSQL, its statistics older than the newest
    // events, read every event after a position 40,000 behind the head to keep 500 (BENCHMARKS.md).
    // A chain's seqs have no gaps, so a range as wide as the limit holds every event the read wants.
    const tenant = 'bounded-range';
    const { feed, counts } = countingFeed();
    const whole = countingFeed();
    try {
      const start = await feed.head(tenant);
      for (let i = 0; i < 6; i++) await put(tenant, `far-${i}`, 'v');
      const all = await whole.feed.read(tenant, start);
      let position: FeedPosition = start;
      const names: (string | undefined)[] = [];
      for (let more = true; more;) {
        const batch = await feed.read(tenant, position, 4);
        names.push(...batch.events.map((e) => `${e.kind} ${e.secret?.name}`));
        position = batch.position;
        more = batch.more;
      }
      assert.deepEqual(
        names,
        all.events.map((e) => `${e.kind} ${e.secret?.name}`),
        'the same changes, in the same order, as one read without a small limit',
      );
      const far = Array.from({ length: 6 }, (_, i) => `far-${i}`);
      assert.deepEqual(
        names.filter((n) => n?.startsWith('secret.value-set')),
        far.map((name) => `secret.value-set ${name}`),
        'every value set, once, in order',
      );
      assert.ok(counts.queries.length >= 3, `read in several ranges (${counts.queries.length})`);
      for (const query of counts.queries) {
        assert.equal(query.direction, 'asc');
        assert.notEqual(query.beforeSeq, undefined, 'bounded above');
        const width = (query.beforeSeq ?? Infinity) - (query.afterSeq ?? 0) - 1;
        assert.ok(width <= query.limit, `seqs (${query.afterSeq}, ${query.beforeSeq}) for ${query.limit}`);
      }
    } finally {
      feed.close();
      whole.feed.close();
    }
  });

  it('a tail keeps at most twice its bound (TAIL_KEEP) of events per chain, the newest', async () => {
    const keep = 8;
    const { feed, counts } = countingFeed(keep);
    const plain = countingFeed();
    const tenant = 'tail-bound';
    try {
      const start = await feed.head(tenant);
      const stop = feed.watchTenant(tenant, () => undefined);
      // One value-set per write once created: past twice the bound, the tail is cut to the bound.
      for (let i = 0; i < 2 * keep + 4; i++) await put(tenant, 'bounded', `v${i}`);
      let position: FeedPosition = start;
      for (let more = true; more;) {
        const batch = await feed.read(tenant, position, 3);
        position = batch.position;
        more = batch.more;
      }
      // The newest `keep` are still there.
      const chain = [...position.keys()][0] ?? '';
      const newest = new Map([[chain, (position.get(chain) ?? 0) - keep]]);
      const reads0 = counts.reads;
      const kept = await feed.read(tenant, newest);
      assert.equal(counts.reads, reads0);
      assert.equal(kept.events.length, keep);
      // The oldest events were dropped from the tail: reading from the start goes to the database,
      // and still gives what a feed without a tail gives.
      const reads = counts.reads;
      const a = await feed.read(tenant, start);
      assert.ok(counts.reads > reads);
      assert.deepEqual(a.events, (await plain.feed.read(tenant, start)).events);
      stop();
    } finally {
      feed.close();
      plain.feed.close();
    }
  });

  it("this process's commits join the tail: the read they wake finds them without reading the database", async () => {
    const { feed, counts } = countingFeed(undefined, true);
    const plain = countingFeed();
    try {
      const start = await feed.head(T);
      let woken = 0;
      const stop = feed.watchTenant(T, () => woken++);
      // The first read makes the tail; later commits join it.
      const first = await feed.read(T, start);
      const reads = counts.reads;
      for (let i = 0; i < 5; i++) await put(T, `committed-${i}`, 'v');
      assert.ok(woken > 0);
      const batch = await feed.read(T, first.position);
      assert.equal(counts.reads, reads, 'no read of the database');
      assert.deepEqual(
        batch.events.filter((e) => e.kind === 'secret.value-set').map((e) => e.secret?.name),
        [0, 1, 2, 3, 4].map((i) => `committed-${i}`),
      );
      // Exactly what the chains hold.
      const direct = await plain.feed.read(T, first.position);
      assert.deepEqual(batch.events, direct.events);
      assert.deepEqual(encodeKeys(batch.position), encodeKeys(direct.position));
      // A change that rolled back was never committed, so never joins the tail; the next one does.
      await put(T, 'TAKEN', 'v');
      await assert.rejects(
        server.runtime.core.secrets.createMany(OPERATOR, T, { name: 'default' }, [
          { name: 'GHOST' },
          { name: 'TAKEN' },
        ]),
      );
      await put(T, 'committed-after', 'v');
      const next = await feed.read(T, batch.position);
      assert.deepEqual(next.events, (await plain.feed.read(T, batch.position)).events);
      assert.ok(next.events.some((e) => e.secret?.name === 'committed-after'));
      assert.ok(!next.events.some((e) => e.secret?.name === 'GHOST'));
      stop();
    } finally {
      feed.close();
      plain.feed.close();
    }
  });

  it('a subscriber and a webhook of one tenant both get every change of a burst, in order', async () => {
    const receiver = await WebhookReceiver.start();
    const stream = await EventStream.open(`${server.url}/v1/tenants/${T}/events`, server.adminToken);
    try {
      await stream.waitFor('ready', (x) => x.events.some((e) => e.event === 'ready'));
      await createWebhook(server.url, server.adminToken, {
        url: receiver.url,
        eventKinds: ['secret.value-set'],
      });
      const names = Array.from({ length: 30 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
      await Promise.all(names.map((name) => put(T, name, 'v')));
      const burst = (name: string | null | undefined) => name?.startsWith('burst-') === true;
      await stream.waitFor(
        'the burst',
        (x) => x.changes().filter((c) => c.kind === 'secret.value-set' && burst(c.secret?.name)).length >= 30,
      );
      await receiver.until(
        () => receiver.delivered().filter((r) => burst(secretNameOf(r.body))).length >= 30,
        'the burst',
      );
      const streamed = stream
        .changes()
        .filter((c) => c.kind === 'secret.value-set' && burst(c.secret?.name))
        .map((c) => c.secret?.name);
      const delivered = receiver
        .delivered()
        .map((r) => secretNameOf(r.body))
        .filter(burst);
      assert.deepEqual([...streamed].sort(), names);
      // One store: the webhook delivers its changes in the order they committed, as the stream sent them.
      assert.deepEqual(delivered, streamed);
    } finally {
      stream.close();
      await receiver.close();
    }
  });
});

function decodeId(id: string): FeedPosition {
  const text = Buffer.from(id.slice('c1.'.length), 'base64url').toString('utf8');
  return new Map(JSON.parse(text) as [string, number][]);
}

function encodeKeys(position: FeedPosition): [string, number][] {
  return [...position].sort(([a], [b]) => (a < b ? -1 : 1));
}
