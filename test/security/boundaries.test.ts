import { splitResource } from '../../src/core/change-events.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import type { Clock } from '../../src/core/clock.js';
import { generateToken } from '../../src/crypto/tokens.js';
import { chainOf } from '../audit/audit-events.js';
import { request } from '../support/http-client.js';
import { allAuditRowsText } from '../support/raw-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Exact boundaries, with the server's clock in the test's hand: a value is served from notBefore
 * (inclusive) until expiresOn (exclusive), on every path that returns values; one millisecond either
 * side of each bound is checked, so moving `<` to `<=` or `>=` to `>` fails here.
 * And the audit trail's redaction of names that are really tokens.
 */
const NOT_BEFORE = Date.UTC(2031, 4, 1, 12, 0, 0, 0);
const EXPIRES_ON = Date.UTC(2031, 4, 2, 12, 0, 0, 0);
const VALUE = 'windowed-value-3b7e';

class HandClock implements Clock {
  at = NOT_BEFORE - 60_000;
  now(): number {
    return this.at;
  }
}

describe('validity window boundaries on every read path (injected clock)', () => {
  const clock = new HandClock();
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startTestServer({ clock });
    token = await server.createKey('default', 'reader', ['secrets:read', 'secrets:reveal']);
    await server.runtime.core.secrets.putValue(OPERATOR, {
      tenantId: 'default',
      name: 'W',
      value: VALUE,
      window: { notBefore: NOT_BEFORE, expiresOn: EXPIRES_ON },
    });
  });
  after(() => server.close());

  /** Whether each path returns the value at this instant; all paths must agree. */
  async function servedAt(instant: number): Promise<Record<string, boolean>> {
    clock.at = instant;
    const neostore = await request(server.url, 'GET', '/api/default/secrets/W', { token });
    const v1 = await request(server.url, 'GET', '/v1/tenants/default/stores/default/secrets/W?reveal=true', {
      token,
      auth: 'bearer',
    });
    const batch = await request(server.url, 'POST', '/v1/tenants/default/stores/default/reveal', {
      token,
      auth: 'bearer',
      body: { names: ['W'] },
    });
    const all = await request(server.url, 'POST', '/v1/tenants/default/stores/default/reveal', {
      token,
      auth: 'bearer',
      body: {},
    });
    const served = (r: typeof neostore, ok: boolean, notServed: number) => {
      if (ok) return true;
      assert.equal(r.status, notServed, r.text);
      assert.ok(!r.text.includes(VALUE));
      return false;
    };
    const inBatch = (r: typeof batch) => {
      assert.equal(r.status, 200, r.text);
      const body = r.json as { secrets: { name: string; value: string }[]; missing: string[] };
      const hit = body.secrets.find((s) => s.name === 'W');
      if (hit !== undefined) assert.equal(hit.value, VALUE);
      else assert.ok(r.json !== undefined && !r.text.includes(VALUE));
      return hit !== undefined;
    };
    return {
      neostore: served(neostore, neostore.status === 200 && neostore.text === VALUE, 404),
      v1: served(v1, v1.status === 200 && (v1.json as { value?: string }).value === VALUE, 404),
      batch: inBatch(batch),
      batchAll: inBatch(all),
    };
  }

  const everywhere = { neostore: true, v1: true, batch: true, batchAll: true };
  const nowhere = { neostore: false, v1: false, batch: false, batchAll: false };

  it('not served one millisecond before notBefore', async () => {
    assert.deepEqual(await servedAt(NOT_BEFORE - 1), nowhere);
  });
  it('served exactly at notBefore (inclusive)', async () => {
    assert.deepEqual(await servedAt(NOT_BEFORE), everywhere);
  });
  it('served one millisecond after notBefore', async () => {
    assert.deepEqual(await servedAt(NOT_BEFORE + 1), everywhere);
  });
  it('served one millisecond before expiresOn', async () => {
    assert.deepEqual(await servedAt(EXPIRES_ON - 1), everywhere);
  });
  it('not served exactly at expiresOn (exclusive)', async () => {
    assert.deepEqual(await servedAt(EXPIRES_ON), nowhere);
  });
  it('not served one millisecond after expiresOn', async () => {
    assert.deepEqual(await servedAt(EXPIRES_ON + 1), nowhere);
  });
});

describe('audit redaction of token-like names', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('a token pasted as a secret name never reaches the trail, allowed or refused', async () => {
    // A real token shape (prefix, alphabet, checksum) is a valid secret name: the write succeeds.
    const pasted = generateToken();
    const admin = server.adminToken;
    const put = await request(server.url, 'PUT', `/api/default/secrets/${pasted}`, {
      token: admin,
      body: { value: 'v' },
    });
    assert.equal(put.status, 204, put.text);
    const weak = await server.createKey('default', 'weak', ['secrets:read']);
    const denied = await request(server.url, 'GET', `/api/default/secrets/${pasted}`, { token: weak });
    assert.equal(denied.status, 403);
    const v1 = await request(server.url, 'GET', `/v1/tenants/default/stores/default/secrets/${pasted}`, {
      token: admin,
      auth: 'bearer',
    });
    assert.equal(v1.status, 200);

    const events = await chainOf(server, 'default');
    const redacted = events.filter((e) => e.resource.includes('(token-like)'));
    // The create, the set-value, the refused reveal and the v1 read: each recorded, none with the token.
    assert.deepEqual(
      redacted.map((e) => `${e.action} ${e.outcome}`),
      ['secret.create allowed', 'secret.set-value allowed', 'secret.reveal denied', 'secret.get allowed'],
    );
    const text = await allAuditRowsText(server);
    assert.ok(!text.includes(pasted), 'the trail holds the token');
    assert.ok(!text.includes(pasted.slice(7, 40)), 'the trail holds part of the token');
  });

  it('an ordinary name is kept as it is (the redaction is not blanket)', async () => {
    const put = await request(server.url, 'PUT', '/api/default/secrets/coffer_not_a_token', {
      token: server.adminToken,
      body: { value: 'v' },
    });
    assert.equal(put.status, 204);
    const events = await chainOf(server, 'default');
    // As addressed, and in the change detail (docs/audit.md, "Resource detail").
    assert.ok(events.some((e) => splitResource(e.resource).addressed.endsWith('/secret:coffer_not_a_token')));
    assert.ok(events.some((e) => splitResource(e.resource).detail.secretName === 'coffer_not_a_token'));
  });
});
