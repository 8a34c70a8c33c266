import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { generateToken } from '../../src/crypto/tokens.js';
import { type HttpResult, request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * The failed-authentication limit (per client address) and the per-key rate, on every facade, with
 * COFFER_TRUST_PROXY off (X-Forwarded-For is whatever a client claims: never believed), on (the
 * address is the forwarded one), and set to a proxy that is not the caller (not believed either).
 */
const LIMIT = 3;

interface FacadeUnderTest {
  readonly name: string;
  call(server: TestServer, token: string, headers?: Record<string, string>): Promise<HttpResult>;
  /** The facade's own 429 shape with `code`. */
  assertTooMany(res: HttpResult, code: 'too_many_failed_authentications' | 'key_rate_limited'): void;
}

function retryAfter(res: HttpResult, facade: string): void {
  const seconds = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `${facade}: Retry-After ${seconds}`);
}

const problem429 = (name: string) => (res: HttpResult, code: string) => {
  assert.equal(res.status, 429, `${name}: ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, name);
  const body = res.json as Record<string, unknown>;
  assert.equal(body.status, 429, name);
  assert.equal(body.code, code, name);
  retryAfter(res, name);
};

const FACADES: readonly FacadeUnderTest[] = [
  {
    name: 'neostore',
    call: (s, token, headers) =>
      request(s.url, 'GET', '/api/acme/secrets', { token, headers: headers ?? {} }),
    assertTooMany: problem429('neostore'),
  },
  {
    name: 'v1',
    call: (s, token, headers) =>
      request(s.url, 'GET', '/v1/tenants/acme/stores', { token, auth: 'bearer', headers: headers ?? {} }),
    assertTooMany: problem429('v1'),
  },
  {
    name: 'cloudflare',
    call: (s, token, headers) =>
      request(s.url, 'GET', '/client/v4/accounts/acme/secrets_store/stores', {
        token,
        auth: 'bearer',
        headers: headers ?? {},
      }),
    assertTooMany: (res) => {
      assert.equal(res.status, 429, `cloudflare: ${res.text}`);
      const body = res.json as { success: unknown; errors: { code: number; message: string }[] };
      assert.deepEqual(
        { ...body, errors: body.errors.map((e) => ({ code: e.code })) },
        { success: false, errors: [{ code: 1104 }], messages: [], result: null },
      );
      // Cloudflare's errors carry a human sentence beside the code (issue 18), not a slug.
      assert.match(body.errors[0]?.message ?? '', /^[A-Z].* .*\.$/, 'cloudflare: a sentence');
      retryAfter(res, 'cloudflare');
    },
  },
  {
    name: 'envs',
    call: (s, token, headers) =>
      request(s.url, 'GET', '/acme/web/envs/dev/secrets', { token, auth: 'bearer', headers: headers ?? {} }),
    assertTooMany: (res) => {
      assert.equal(res.status, 429, `envs: ${res.text}`);
      const body = res.json as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error']);
      assert.equal(body.code, 'rate_limited');
      retryAfter(res, 'envs');
    },
  },
];

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
async function serverWith(env: Record<string, string>): Promise<TestServer> {
  const server = await startTestServer({ env });
  servers.push(server);
  return server;
}

describe('failed-authentication limit without a trusted proxy: X-Forwarded-For is not believed', () => {
  for (const facade of FACADES) {
    it(`${facade.name}: ${LIMIT} failures, then 429 on this facade and every other, whatever X-Forwarded-For says`, async () => {
      const server = await serverWith({ COFFER_AUTH_FAILURE_LIMIT: String(LIMIT) });
      for (let i = 0; i < LIMIT; i++) {
        // A different claimed address each time: it must not give a fresh budget.
        const res = await facade.call(server, generateToken(), { 'x-forwarded-for': `203.0.113.${i + 1}` });
        assert.equal(res.status, 401, `${facade.name} attempt ${i + 1}: ${res.text}`);
      }
      for (const other of FACADES) {
        other.assertTooMany(
          await other.call(server, generateToken(), { 'x-forwarded-for': '198.51.100.7' }),
          'too_many_failed_authentications',
        );
        other.assertTooMany(await other.call(server, 'junk'), 'too_many_failed_authentications');
      }
    });
  }
});

describe('failed-authentication limit behind a trusted proxy (COFFER_TRUST_PROXY=true): per forwarded address', () => {
  for (const [n, facade] of FACADES.entries()) {
    it(`${facade.name}: blocks the forwarded address that failed, and only that one`, async () => {
      // A server per facade: the proxy's own address fails once in each, and must stay under the limit.
      const s = await serverWith({ COFFER_AUTH_FAILURE_LIMIT: String(LIMIT), COFFER_TRUST_PROXY: 'true' });
      const attacker = { 'x-forwarded-for': `10.0.${n}.1` };
      const bystander = { 'x-forwarded-for': `10.0.${n}.2` };
      for (let i = 0; i < LIMIT; i++) {
        assert.equal((await facade.call(s, generateToken(), attacker)).status, 401, facade.name);
      }
      facade.assertTooMany(
        await facade.call(s, generateToken(), attacker),
        'too_many_failed_authentications',
      );
      // Another client behind the same proxy is not blocked by it, nor is the proxy's own address.
      assert.equal((await facade.call(s, generateToken(), bystander)).status, 401, facade.name);
      assert.equal((await facade.call(s, generateToken())).status, 401, facade.name);
    });
  }
});

describe('COFFER_TRUST_PROXY naming another address: the caller is not that proxy, its header is ignored', () => {
  for (const facade of FACADES) {
    it(`${facade.name}: spoofed X-Forwarded-For from an untrusted peer counts against the peer`, async () => {
      const server = await serverWith({
        COFFER_AUTH_FAILURE_LIMIT: String(LIMIT),
        COFFER_TRUST_PROXY: '192.0.2.1',
      });
      for (let i = 0; i < LIMIT; i++) {
        const res: HttpResult = await facade.call(server, generateToken(), {
          'x-forwarded-for': `10.9.9.${i}`,
        });
        assert.equal(res.status, 401, facade.name);
      }
      facade.assertTooMany(
        await facade.call(server, generateToken(), { 'x-forwarded-for': '10.9.9.200' }),
        'too_many_failed_authentications',
      );
    });
  }
});

describe('per-key rate (COFFER_KEY_RATE_LIMIT) on every facade, whatever address the requests claim', () => {
  for (const trustProxy of ['false', 'true']) {
    it(`a burst above the rate gets 429 key_rate_limited, COFFER_TRUST_PROXY=${trustProxy}`, async () => {
      const server = await serverWith({ COFFER_KEY_RATE_LIMIT: '2', COFFER_TRUST_PROXY: trustProxy });
      for (const facade of FACADES) {
        // A key per facade: each burst starts with a full bucket, with no waiting.
        const token = await server.createKey('acme', `burst-${facade.name}`, ['*']);
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            facade.call(server, token, { 'x-forwarded-for': `10.1.1.${i + 1}` }),
          ),
        );
        const limited = results.filter((r) => r.status === 429);
        assert.ok(limited.length >= 1, `${facade.name}: ${results.map((r) => r.status).join(',')}`);
        assert.ok(
          results.some((r) => r.status === 200),
          `${facade.name}: the start of the burst is served`,
        );
        for (const r of results)
          assert.ok(r.status === 200 || r.status === 429, `${facade.name}: ${r.status}`);
        for (const res of limited) facade.assertTooMany(res, 'key_rate_limited');
      }
    });
  }
});
