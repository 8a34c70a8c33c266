import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateToken } from '../../src/crypto/tokens.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface Page {
  events: {
    chainId: string;
    seq: number;
    action: string;
    actor: string;
    time: string;
    resource: string;
    outcome: string;
  }[];
  nextCursor: string | null;
}

/** `GET /api/{tenantId}/audit`: permissions, paging, filters and ProblemDetails errors. */
describe('GET /api/{tenantId}/audit', () => {
  let server: TestServer;
  let auditor: string;
  let reader: string;
  let other: string;

  before(async () => {
    server = await startTestServer();
    auditor = await server.createKey('default', 'auditor', ['audit:read']);
    reader = await server.createKey('default', 'reader', ['secrets:read', 'secrets:reveal']);
    other = await server.createKey('other', 'admin', ['*']);
    for (let i = 0; i < 5; i++) {
      await request(server.url, 'PUT', `/api/default/secrets/s${i}`, {
        token: server.adminToken,
        body: { value: `value-${i}` },
      });
      await request(server.url, 'GET', `/api/default/secrets/s${i}`, { token: reader });
    }
  });
  after(() => server.close());

  /** `token` null: no credential at all. */
  const audit = (query: string, token: string | null = auditor, tenant = 'default') =>
    request(server.url, 'GET', `/api/${tenant}/audit${query}`, token === null ? {} : { token });

  it('needs audit:read (or *) in its own tenant; ProblemDetails otherwise', async () => {
    const cases: [string | null, number][] = [
      [null, 401],
      ['not-a-token', 401],
      [generateToken(), 401],
      [other, 403],
      [reader, 403],
      [auditor, 200],
      [server.adminToken, 200],
    ];
    for (const [token, status] of cases) {
      const res = await audit('', token);
      assert.equal(res.status, status, `${token?.slice(0, 10)} → ${res.text}`);
      if (status !== 200) {
        assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
        assert.ok(!('events' in (res.json as object)));
      }
    }
    const refused = await audit('?action=secret.reveal', reader);
    assert.equal((refused.json as { code: string }).code, 'missing_permission');
    // The other tenant's key sees nothing of this tenant's trail, and its own trail is its own.
    const own = (await audit('', other, 'other')).json as Page;
    assert.ok(own.events.every((e) => e.actor === 'key:admin' || e.actor === 'operator'));
    assert.ok(
      own.events.some(
        (e) => e.resource === 'tenant:default/audit' && e.outcome === 'denied' && e.action === 'audit.read',
      ),
      'its refused attempt on another tenant is in its own trail',
    );
  });

  it('pages newest first across chains with an opaque cursor, no event twice or skipped', async () => {
    const key = (e: { chainId: string; seq: number }) => `${e.chainId}#${e.seq}`;
    // Every event there was before the walk, newest first, as the database orders them.
    const existing = (
      await server.runtime.repository.listTenantAuditEvents({
        tenantId: 'default',
        direction: 'desc',
        limit: 100_000,
      })
    ).map(key);
    assert.ok(new Set(existing.map((k) => k.split('#')[0])).size >= 2, 'several chains to page across');
    const seen: string[] = [];
    const times: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await audit(`?limit=4${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      assert.equal(res.status, 200, res.text);
      const page = res.json as Page;
      seen.push(...page.events.map(key));
      times.push(...page.events.map((e) => Date.parse(e.time)));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    assert.equal(new Set(seen).size, seen.length, 'no event twice');
    assert.deepEqual(
      times,
      [...times].sort((x, y) => y - x),
      'newest first',
    );
    // Reading is itself recorded: events newer than the walk's start may appear; none older is skipped.
    const before = new Set(existing);
    assert.deepEqual(
      seen.filter((k) => before.has(k)),
      existing,
    );
    assert.equal(((await audit('?limit=1')).json as Page).events[0]?.action, 'audit.read');
  });

  it('still takes a cursor of the version before chains per writer (a seq of the tenant chain)', async () => {
    // Version 1 named a seq of the schema-2 chain, whose id is the tenant id: none here, so the walk ends.
    const v1 = Buffer.from(JSON.stringify({ v: 1, before: 3 })).toString('base64url');
    const res = await audit(`?cursor=${v1}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { events: [], nextCursor: null });
    const bad = Buffer.from(JSON.stringify({ v: 2, t: 1, c: 5, s: 1 })).toString('base64url');
    assert.equal((await audit(`?cursor=${bad}`)).status, 400);
  });

  it('filters by action, actor and time', async () => {
    const reveals = (await audit('?action=secret.reveal&limit=500')).json as Page;
    assert.equal(reveals.events.length, 5);
    assert.ok(reveals.events.every((e) => e.action === 'secret.reveal' && e.actor === 'key:reader'));
    const byAdmin = (await audit('?actor=key:admin&limit=500')).json as Page;
    assert.ok(byAdmin.events.length >= 10);
    assert.ok(byAdmin.events.every((e) => e.actor === 'key:admin'));
    const none = (await audit('?until=2000-01-01T00:00:00Z')).json as Page;
    assert.deepEqual(none, { events: [], nextCursor: null });
    const future = (await audit('?since=2999-01-01T00:00:00Z')).json as Page;
    assert.equal(future.events.length, 0);
    const recent = (await audit('?since=2000-01-01&limit=500')).json as Page;
    assert.ok(recent.events.length > 10);
  });

  it('refuses a bad limit, cursor or instant with 400 ProblemDetails', async () => {
    for (const query of [
      '?limit=0',
      '?limit=501',
      '?cursor=bm9wZQ',
      '?cursor=%25%25',
      '?since=yesterday',
      '?x=1',
    ]) {
      const res = await audit(query);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    }
  });

  it('is in /openapi.json with its parameters', async () => {
    const doc = (await request(server.url, 'GET', '/openapi.json')).json as {
      paths: Record<string, { get?: { operationId?: string; parameters?: { name: string }[] } }>;
    };
    const op = doc.paths['/api/{tenantId}/audit']?.get;
    assert.equal(op?.operationId, 'listAuditEvents');
    const names = (op?.parameters ?? []).map((p) => p.name).sort();
    assert.deepEqual(names, ['action', 'actor', 'cursor', 'limit', 'since', 'tenantId', 'until']);
  });
});
