import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { generateToken } from '../../src/crypto/tokens.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { parseSamples } from '../observability/prometheus-text.js';

/**
 * Issue 13, item 7: the API answers a disabled token exactly as an unknown one, on purpose; the open
 * `/metrics` undid that with `reason="disabled_token"` vs `"unknown_token"`. Now an attacker holding
 * a revoked token learns nothing from diffing the counters around one request.
 */
describe('/metrics does not tell a disabled token from an unknown one', () => {
  let server: TestServer;
  let disabledKey = '';
  let disabledService = '';

  before(async () => {
    server = await startTestServer();
    disabledKey = await server.createKey('acme', 'revoked', ['*']);
    await server.runtime.core.apiKeys.update(OPERATOR, 'acme', 'revoked', { enabled: false });
    disabledService = await server.createService('retired');
    await server.runtime.core.services.setEnabled(OPERATOR, 'retired', false);
  });
  after(() => server.close());

  /** The auth-failure series that one request changed, as `labels → increase`. */
  async function diffAround(send: () => Promise<unknown>): Promise<Record<string, number>> {
    const read = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const out = new Map<string, number>();
      for (const s of parseSamples(text)) {
        if (s.name === 'coffer_auth_failures_total') out.set(JSON.stringify(s.labels), s.value);
      }
      return out;
    };
    const before = await read();
    await send();
    const after = await read();
    const changed: Record<string, number> = {};
    for (const [labels, value] of after) {
      const increase = value - (before.get(labels) ?? 0);
      if (increase !== 0) changed[labels] = increase;
    }
    return changed;
  }

  for (const [facade, call] of [
    ['neostore', (token: string) => request(server.url, 'GET', '/api/acme/secrets', { token })],
    ['v1', (token: string) => request(server.url, 'GET', '/v1/tenants/acme/stores', { token })],
    [
      'cloudflare',
      (token: string) =>
        request(server.url, 'GET', '/client/v4/accounts/acme/secrets_store/stores', {
          token,
          auth: 'bearer',
        }),
    ],
    [
      'envs',
      (token: string) => request(server.url, 'GET', '/acme/web/envs/dev/secrets', { token, auth: 'bearer' }),
    ],
  ] as const) {
    it(`${facade}: a disabled key, a disabled service and an unknown token change the same series`, async () => {
      const answers: string[] = [];
      const diffs: Record<string, number>[] = [];
      for (const token of [disabledKey, disabledService, generateToken()]) {
        diffs.push(
          await diffAround(async () => {
            const res = await call(token);
            assert.equal(res.status, 401);
            answers.push(res.text.replace(/"traceId":"[^"]*"/, ''));
          }),
        );
      }
      assert.equal(Object.keys(diffs[0] ?? {}).length, 1, JSON.stringify(diffs[0]));
      assert.deepEqual(diffs[1], diffs[0], 'disabled service vs disabled key');
      assert.deepEqual(diffs[2], diffs[0], 'unknown token vs disabled key');
      assert.equal(new Set(answers).size, 1, 'and the answers are identical');
    });
  }
});
