import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { decodePosition, encodePosition, renderDetail, splitResource } from '../../src/core/change-events.js';
import { carriesChanges } from '../../src/core/audit-trail.js';
import { CofferApiError, CofferClient } from '../../src/client/index.js';
import { request } from '../support/http-client.js';
import { allAuditRowsText, pruneAuditEvents } from '../support/raw-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { EnvsClient } from '../envs/envs-client.js';
import { type ChangeData, EventStream, RawStream } from './event-stream-client.js';

const T = 'default';

const named = (kind: string, secret: string) => (c: ChangeData) =>
  c.kind === kind && c.secret?.name === secret;

describe('/v1 change streams (SSE)', () => {
  let server: TestServer;
  let admin: string;
  const streams: EventStream[] = [];
  const open = async (path: string, token: string, headers: Record<string, string> = {}) => {
    const s = await EventStream.open(`${server.url}${path}`, token, headers);
    streams.push(s);
    if (s.status === 200) await s.waitFor('ready', (x) => x.events.some((e) => e.event === 'ready'));
    return s;
  };

  before(async () => {
    server = await startTestServer({
      env: { COFFER_WATCH_LIMIT_KEY: '3', COFFER_WATCH_HEARTBEAT_SECONDS: '1' },
    });
    admin = server.adminToken;
  });
  after(async () => {
    for (const s of streams) s.close();
    await server.close();
  });

  it('a subscriber sees a change made through each facade: Neostore, Cloudflare, envs and /v1', async () => {
    const s = await open(`/v1/tenants/${T}/events`, admin);
    // Neostore
    assert.equal(
      (
        await request(server.url, 'PUT', `/api/${T}/secrets/neo-secret`, {
          token: admin,
          body: { value: 'v1' },
        })
      ).status < 300,
      true,
    );
    await s.waitFor('the Neostore change', (x) => x.changes().some(named('secret.value-set', 'neo-secret')));
    const neo = s.changes().find(named('secret.value-set', 'neo-secret'));
    assert.equal(neo?.store?.name, 'default');
    assert.equal(neo?.version, 1);
    assert.ok(s.changes().some(named('secret.created', 'neo-secret')));
    // Cloudflare
    const cf = (method: string, path: string, body?: unknown) =>
      request(server.url, method, `/client/v4/accounts/${T}/secrets_store${path}`, {
        token: admin,
        auth: 'bearer',
        body,
      });
    const store = await cf('POST', '/stores', { name: 'cf-store' });
    const storeId = (store.json as { result: { id: string } }).result.id;
    const created = await cf('POST', `/stores/${storeId}/secrets`, [
      { name: 'CF_TOKEN', value: 'x', scopes: ['workers'] },
    ]);
    const secretId = (created.json as { result: { id: string }[] }).result[0]?.id ?? '';
    await cf('PATCH', `/stores/${storeId}/secrets/${secretId}`, { value: 'y' });
    await s.waitFor('the Cloudflare change', (x) => x.changes().some(named('secret.value-set', 'CF_TOKEN')));
    const cfChange = s.changes().filter(named('secret.value-set', 'CF_TOKEN')).at(-1);
    assert.deepEqual(cfChange?.store, { id: storeId, name: 'cf-store' });
    assert.deepEqual(cfChange?.secret, { id: secretId, name: 'CF_TOKEN' });
    assert.equal(cfChange?.version, 2);
    assert.ok(s.changes().some((c) => c.kind === 'store.created' && c.store?.id === storeId));
    // envs
    const envs = new EnvsClient(server);
    await envs.call('POST', `/${T}/app/envs/prod/secrets`, { body: { kind: 'Secret', name: 'ENV_KEY' } });
    await envs.call('PUT', `/${T}/app/envs/prod/secrets/ENV_KEY/value`, { body: { value: 'e' } });
    await s.waitFor('the envs change', (x) => x.changes().some(named('secret.value-set', 'ENV_KEY')));
    assert.equal(s.changes().find(named('secret.value-set', 'ENV_KEY'))?.store?.name, 'app/prod');
    // /v1
    await request(server.url, 'PUT', `/v1/tenants/${T}/stores/default/secrets/V1_KEY`, {
      token: admin,
      body: { value: 'z' },
    });
    await request(server.url, 'DELETE', `/v1/tenants/${T}/stores/default/secrets/V1_KEY`, { token: admin });
    await s.waitFor('the /v1 delete', (x) => x.changes().some(named('secret.deleted', 'V1_KEY')));
    // Counted: streams open, events sent and their lag (docs/observability.md).
    const metrics = await server.metrics.render();
    assert.match(metrics, /^coffer_change_subscribers [1-9]/m);
    assert.match(metrics, /^coffer_change_events_sent_total [1-9]/m);
    assert.match(metrics, /^coffer_change_event_lag_seconds_count [1-9]/m);
    // Never a value.
    for (const e of s.events)
      for (const v of ['"v1"', '"x"', '"y"', '"e"', '"z"']) assert.ok(!e.data.includes(`:${v}`));
  });

  it('an event id names only chains that can hold changes: reads and refusals add none', async () => {
    // Reads and a refusal: their events go to this server's `r` chain of the tenant.
    const put = await request(server.url, 'PUT', `/api/${T}/secrets/pos-read`, {
      token: admin,
      body: { value: 'x' },
    });
    assert.equal(put.status < 300, true);
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await request(server.url, 'GET', `/api/${T}/secrets/pos-read`, { token: admin })).status,
        200,
      );
    }
    assert.equal(
      (await request(server.url, 'GET', `/api/${T}/secrets/pos-read`, { token: 'coffer_wrong' })).status,
      401,
    );
    const chains = new Set(
      (await allAuditRowsText(server))
        .split('\n')
        .flatMap((row) => row.split('\t').filter((f) => f.includes(`/${T}`))),
    );
    assert.ok(
      [...chains].some((c) => !carriesChanges(c)),
      'the reads were written to a read chain',
    );
    const s = await open(`/v1/tenants/${T}/events`, admin);
    await request(server.url, 'PUT', `/api/${T}/secrets/pos-read`, { token: admin, body: { value: 'y' } });
    await s.waitFor('the change', (x) => x.changes().some(named('secret.value-set', 'pos-read')));
    const id = s.events.find((e) => e.event !== 'ready' && e.id !== null && e.data.includes('pos-read'))?.id;
    assert.ok(id !== undefined && id !== null);
    const position = decodePosition(id);
    assert.ok(position !== null && position.size > 0);
    for (const chain of position.keys()) assert.ok(carriesChanges(chain), `${chain} holds no change`);
    s.close();
  });

  it('reconnecting with Last-Event-ID (header or query) loses nothing and repeats nothing', async () => {
    const first = await open(`/v1/tenants/${T}/stores/default/events`, admin);
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'R0', value: 'a' });
    await first.waitFor('R0', (x) => x.changes().some(named('secret.value-set', 'R0')));
    const resumeAt = first.events.filter((e) => e.event === 'change').at(-1)?.id ?? '';
    first.close();
    for (let i = 1; i <= 5; i++) {
      await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: `R${i}`, value: 'a' });
    }
    for (const how of ['header', 'query'] as const) {
      const again =
        how === 'header'
          ? await open(`/v1/tenants/${T}/stores/default/events`, admin, { 'last-event-id': resumeAt })
          : await open(
              `/v1/tenants/${T}/stores/default/events?lastEventId=${encodeURIComponent(resumeAt)}`,
              admin,
            );
      await again.waitFor('R5', (x) => x.changes().some(named('secret.value-set', 'R5')));
      const set = again
        .changes()
        .filter((c) => c.kind === 'secret.value-set')
        .map((c) => c.secret?.name);
      assert.deepEqual(set, ['R1', 'R2', 'R3', 'R4', 'R5'], how);
      again.close();
    }
  });

  it('a rolled-back change is never announced', async () => {
    const s = await open(`/v1/tenants/${T}/events`, admin);
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'TAKEN', value: 'a' });
    // The first create is inserted, then the second name is taken: the whole transaction rolls back.
    await assert.rejects(
      server.runtime.core.secrets.createMany(OPERATOR, T, { name: 'default' }, [
        { name: 'GHOST' },
        { name: 'TAKEN' },
      ]),
    );
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'AFTER', value: 'a' });
    await s.waitFor('AFTER', (x) => x.changes().some(named('secret.value-set', 'AFTER')));
    assert.ok(!s.changes().some((c) => c.secret?.name === 'GHOST'), JSON.stringify(s.changes()));
  });

  it('a store stream carries that store only; key changes reach admin keys only', async () => {
    const reader = await server.createKey(T, 'reader-events', ['secrets:read']);
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'FIRST', value: 'a' });
    const storeStream = await open(`/v1/tenants/${T}/stores/default/events`, reader);
    const tenantStream = await open(`/v1/tenants/${T}/events`, reader);
    const adminStream = await open(`/v1/tenants/${T}/events`, admin);
    await server.runtime.core.secrets.putValue(OPERATOR, {
      tenantId: T,
      storeName: 'other',
      name: 'ELSEWHERE',
      value: 'a',
    });
    await server.createKey(T, 'fresh-key', ['secrets:read']);
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'HERE', value: 'a' });
    await storeStream.waitFor('HERE', (x) => x.changes().some(named('secret.value-set', 'HERE')));
    await tenantStream.waitFor('HERE', (x) => x.changes().some(named('secret.value-set', 'HERE')));
    await adminStream.waitFor('the key change', (x) =>
      x.changes().some((c) => c.kind === 'apikey.created' && c.apiKey === 'fresh-key'),
    );
    assert.ok(!storeStream.changes().some((c) => c.secret?.name === 'ELSEWHERE'));
    assert.ok(tenantStream.changes().some((c) => c.secret?.name === 'ELSEWHERE'));
    assert.ok(!tenantStream.changes().some((c) => c.kind.startsWith('apikey.')));
  });

  it('is audited once per subscription, needs secrets:read, and is bounded per key (429)', async () => {
    const none = await server.createKey(T, 'no-read', ['secrets:reveal']);
    const refused = await request(server.url, 'GET', `/v1/tenants/${T}/events`, { token: none });
    assert.equal(refused.status, 403);
    const limited = await server.createKey(T, 'limited', ['secrets:read']);
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await open(`/v1/tenants/${T}/events`, limited));
    const over = await request(server.url, 'GET', `/v1/tenants/${T}/events`, { token: limited });
    assert.equal(over.status, 429);
    assert.equal((over.json as { code: string }).code, 'too_many_watchers');
    const events = await server.runtime.repository.listTenantAuditEvents({
      tenantId: T,
      direction: 'asc',
      actor: 'key:limited',
      limit: 100,
    });
    const watches = events.filter((e) => e.action === 'changes.watch' && e.actor === 'key:limited');
    assert.deepEqual(
      watches.map((e) => e.outcome),
      ['allowed', 'allowed', 'allowed', 'denied'],
    );
    for (const h of held) h.close();
    // A place is free again once a stream is gone.
    await new Promise((r) => setTimeout(r, 200));
    const again = await open(`/v1/tenants/${T}/events`, limited);
    assert.equal(again.status, 200);
    again.close();
  });

  it('closes the stream when its key is disabled', async () => {
    const key = await server.createKey(T, 'soon-disabled', ['secrets:read']);
    const s = await open(`/v1/tenants/${T}/events`, key);
    await server.runtime.core.apiKeys.update(OPERATOR, T, 'soon-disabled', { enabled: false });
    await s.waitFor('the close', (x) => x.ended);
    assert.ok(s.events.some((e) => e.event === 'closed' && e.data.includes('credentials')));
  });

  it('is gzip for a client that takes it (the same frames); its stream ends with a trailer gunzip verifies', async () => {
    const key = await server.createKey(T, 'gzip-reader', ['secrets:read']);
    // node:http, which decompresses nothing: the bytes on the wire, read as a client's gunzip reads them.
    const gz = await RawStream.open(`${server.url}/v1/tenants/${T}/events`, key, 'gzip, deflate');
    const plain = await RawStream.open(`${server.url}/v1/tenants/${T}/events`, key, null);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(plain.headers['content-encoding'], undefined);
    for (const s of [gz, plain]) assert.equal(s.headers.vary, 'accept-encoding');
    for (let i = 0; i < 30; i++) {
      await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: `GZ${i}`, value: 'a' });
    }
    const changes = (s: RawStream) =>
      s.text
        .split('\n\n')
        .filter(
          (f) => f.startsWith('event: change\n') && f.includes('"secret.value-set"') && f.includes('"GZ'),
        )
        .join('\n\n');
    await Promise.all(
      [gz, plain].map((s) => s.until(() => changes(s).split('\n\n').length === 30, 'the 30 changes')),
    );
    assert.equal(changes(gz), changes(plain), 'the same change frames, ids and order');
    // The server ends both streams: the gzip one with its final block and trailer (CRC-32, length).
    await server.runtime.core.apiKeys.update(OPERATOR, T, 'gzip-reader', { enabled: false });
    await Promise.all([gz.ended, plain.ended]);
    assert.equal(gz.error, null, 'gunzip found the stream whole');
    assert.ok(gz.text.includes('event: closed\ndata: {"reason":"credentials"}'), gz.text.slice(-200));
    assert.ok(plain.text.includes('event: closed\ndata: {"reason":"credentials"}'));
  });

  it('a Last-Event-ID from before pruned events gets a resync event; a malformed one is 400', async () => {
    const bad = await request(server.url, 'GET', `/v1/tenants/${T}/events`, {
      token: admin,
      headers: { 'last-event-id': 'nope' },
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.json as { code: string }).code, 'invalid_cursor');
    // Tenant 'pruned': its first events are gone, as retention would leave it.
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: 'pruned', name: 'OLD', value: 'a' });
    const key = await server.createKey('pruned', 'admin', ['*']);
    await pruneAuditEvents(server, 'pruned', 2);
    const s = await open('/v1/tenants/pruned/events', key, {
      'last-event-id': encodePosition(new Map([['pruned', 0]])),
    });
    await s.waitFor('a resync', (x) => x.events.some((e) => e.event === 'resync'));
    const resync = s.events.find((e) => e.event === 'resync');
    assert.ok(resync?.id);
    // It then goes on with what comes next.
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: 'pruned', name: 'NEW', value: 'a' });
    await s.waitFor('NEW', (x) => x.changes().some(named('secret.value-set', 'NEW')));
    s.close();
  });

  it('the typed client reads a store stream and resumes from an id', async () => {
    // A key of its own: the admin key's streams of the tests above are still open (limit 3 per key).
    const token = await server.createKey(T, 'client-reader', ['secrets:read']);
    const client = new CofferClient({ baseUrl: server.url, token });
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'BEFORE_CLIENT', value: 'b' });
    const stop = new AbortController();
    const seen: string[] = [];
    let lastId = '';
    for await (const frame of client.changes(T, { store: 'default', signal: stop.signal })) {
      if (frame.event === 'ready') {
        await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'VIA_CLIENT', value: 'c' });
      }
      if (frame.event === 'change') {
        const change = JSON.parse(frame.data) as ChangeData;
        seen.push(`${change.kind} ${change.secret?.name ?? ''}`);
        lastId = frame.id ?? '';
        if (change.kind === 'secret.value-set') break;
      }
    }
    assert.deepEqual(seen, ['secret.created VIA_CLIENT', 'secret.value-set VIA_CLIENT']);
    await server.runtime.core.secrets.putValue(OPERATOR, { tenantId: T, name: 'VIA_CLIENT', value: 'd' });
    for await (const frame of client.changes(T, {
      store: 'default',
      lastEventId: lastId,
      signal: stop.signal,
    })) {
      if (frame.event !== 'change') continue;
      const change = JSON.parse(frame.data) as ChangeData;
      assert.equal(change.version, 2);
      break;
    }
    await assert.rejects(
      async () => {
        for await (const frame of client.changes(T, { store: 'no-such-store' })) void frame;
      },
      (error: unknown) => error instanceof CofferApiError && error.code === 'store_not_found',
    );
  });

  it('the audit event of a change names store, secret and version exactly (resource detail)', async () => {
    // The store exists whether or not the tests above ran (a run by name runs this one alone).
    await server.runtime.core.secrets.putValue(OPERATOR, {
      tenantId: T,
      name: 'BEFORE_DETAILED',
      value: 'p',
    });
    const put = await request(server.url, 'PUT', `/v1/tenants/${T}/stores/default/secrets/DETAILED`, {
      token: admin,
      body: { value: 'q' },
    });
    assert.ok(put.status === 200 || put.status === 201, `PUT answered ${put.status}`);
    const events = await server.runtime.repository.listTenantAuditEvents({
      tenantId: T,
      direction: 'desc',
      limit: 5,
    });
    const set = events.find((e) => e.action === 'secret.set-value' && e.outcome === 'allowed');
    assert.ok(set !== undefined);
    const { addressed, detail } = splitResource(set.resource);
    const store = await server.runtime.repository.getStoreByName(T, 'default', null);
    assert.ok(addressed.endsWith('/secret:DETAILED'));
    assert.equal(detail.storeId, store?.id);
    assert.equal(detail.storeName, 'default');
    assert.equal(detail.secretName, 'DETAILED');
    assert.equal(detail.version, 1);
  });
});

describe('resource detail (the change feed decodes every committed change with it)', () => {
  it('reads back what renderDetail wrote, and skips what it does not know', () => {
    const detail = {
      storeId: 's1',
      storeName: 'a/b',
      secretId: 'x1',
      secretName: 'DB_URL',
      version: 7,
      created: true,
    };
    assert.deepEqual(splitResource(`store:a/b/secret:DB_URL${renderDetail(detail)}`), {
      addressed: 'store:a/b/secret:DB_URL',
      detail,
    });
    assert.deepEqual(splitResource('store:a'), { addressed: 'store:a', detail: {} });
    assert.deepEqual(splitResource('store:a#'), { addressed: 'store:a', detail: {} });
    // Parts without `=`, unknown keys, a version that is not a number, empty parts: skipped; the
    // last of a repeated key wins.
    assert.deepEqual(splitResource('store:a#junk&store=b&other=1&version=1e3&&secret=c&store=d&created=0'), {
      addressed: 'store:a',
      detail: { storeName: 'd', secretName: 'c', created: false },
    });
    assert.deepEqual(splitResource('store:a#version=12&x').detail, { version: 12 });
    // A value holds everything after its part's first `=`; a valid version stays when a later one is
    // not a number; parts without `=` before one with it are skipped, whatever their number.
    assert.deepEqual(splitResource('store:a#secret=b=c&version=3&version=x').detail, {
      secretName: 'b=c',
      version: 3,
    });
    assert.deepEqual(splitResource(`store:a#${'x&'.repeat(1000)}store=s`).detail, { storeName: 's' });
    assert.deepEqual(splitResource('store:a#x&y&store=').detail, { storeName: '' });
  });

  it('tells read chains (`<writer>/r/<tenant>`) from chains that carry changes', () => {
    assert.equal(carriesChanges('w1/r/default'), false);
    assert.equal(carriesChanges('w1/c/default'), true);
    // Written before schema 3: the chain's id is the tenant's; it holds both.
    assert.equal(carriesChanges('default'), true);
    assert.equal(carriesChanges('w1/rr/default'), true);
    assert.equal(carriesChanges('w1/r'), true);
    assert.equal(carriesChanges('w1/r/'), false);
    assert.equal(carriesChanges('/r/t'), false);
    assert.equal(carriesChanges('r/t'), true);
    assert.equal(carriesChanges('w1/b/r/t'), true);
  });
});
