import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateToken } from '../../src/crypto/tokens.js';
import { type HttpResult, request } from '../support/http-client.js';
import { startTestServer } from '../support/test-server.js';

/**
 * Issue 13, item 3: after an address was blocked (429) on /api, /client/v4 and envs, /v1 still
 * answered 401 without limit, each an audit write. Every facade now authenticates through one hook
 * (src/http/auth.ts) and the core's `authenticate` needs the client address, so each facade both
 * feeds the per-address limit and honours it.
 */
const LIMIT = 3;

interface Facade {
  readonly name: string;
  readonly call: (url: string, token: string) => Promise<HttpResult>;
  /** Asserts a 429 in the facade's own error shape. */
  readonly assertBlocked: (res: HttpResult) => void;
}

function assertProblem429(res: HttpResult): void {
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = res.json as Record<string, unknown>;
  assert.equal(body.status, 429);
  assert.equal(body.title, 'Too Many Requests');
  assert.equal(body.code, 'too_many_failed_authentications');
}

const FACADES: readonly Facade[] = [
  {
    name: 'neostore',
    call: (url, token) => request(url, 'GET', '/api/acme/secrets', { token }),
    assertBlocked: assertProblem429,
  },
  {
    name: 'v1',
    call: (url, token) => request(url, 'GET', '/v1/tenants/acme/stores', { token }),
    assertBlocked: assertProblem429,
  },
  {
    name: 'cloudflare',
    call: (url, token) =>
      request(url, 'GET', '/client/v4/accounts/acme/secrets_store/stores', { token, auth: 'bearer' }),
    assertBlocked: (res) => {
      const message = (res.json as { errors?: { message?: string }[] }).errors?.[0]?.message ?? '';
      // The message says why and until when (docs/cloudflare-errors.md); the code is what clients match.
      assert.match(message, /^This address \(.+\) is blocked after too many failed authentications, until /);
      assert.deepEqual(res.json, {
        success: false,
        errors: [{ code: 1104, message }],
        messages: [],
        result: null,
      });
    },
  },
  {
    name: 'envs',
    call: (url, token) => request(url, 'GET', '/acme/web/envs/dev/secrets', { token, auth: 'bearer' }),
    assertBlocked: (res) => {
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = res.json as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error']);
      assert.equal(body.code, 'rate_limited');
    },
  },
];

describe('one failed-authentication limit for every facade', () => {
  for (const source of FACADES) {
    it(`failures on ${source.name} block the address on every facade, each answering 429 in its shape`, async () => {
      const server = await startTestServer({ env: { COFFER_AUTH_FAILURE_LIMIT: String(LIMIT) } });
      try {
        for (let i = 0; i < LIMIT; i++) {
          assert.equal((await source.call(server.url, generateToken())).status, 401, `attempt ${i + 1}`);
        }
        for (const facade of FACADES) {
          const res = await facade.call(server.url, generateToken());
          assert.equal(res.status, 429, `${facade.name} after failures on ${source.name}: ${res.text}`);
          const retryAfter = Number(res.headers.get('retry-after'));
          assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, facade.name);
          facade.assertBlocked(res);
        }
      } finally {
        await server.close();
      }
    });
  }
});
