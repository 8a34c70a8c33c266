import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PLATFORM_CHAIN } from '../../src/core/audit-trail.js';
import { generateToken } from '../../src/crypto/tokens.js';
import { request } from '../support/http-client.js';
import { startTestServer } from '../support/test-server.js';
import { eventsDuring } from './audit-events.js';

describe('audit: a blocked address', () => {
  it('records the failures that got it blocked, then counts its refusals instead of writing each', async () => {
    const server = await startTestServer({ env: { COFFER_AUTH_FAILURE_LIMIT: '3' } });
    try {
      const statuses: number[] = [];
      const events = await eventsDuring(server, PLATFORM_CHAIN, async () => {
        for (let i = 0; i < 10; i++) {
          statuses.push(
            (await request(server.url, 'GET', '/api/default/secrets', { token: generateToken() })).status,
          );
        }
      });
      assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
      assert.equal(events.filter((e) => e.action === 'request.refused').length, 3);
      const metrics = await request(server.url, 'GET', '/metrics');
      assert.match(metrics.text, /coffer_auth_failures_total\{[^}]*reason="address_blocked"[^}]*\} 7/);
    } finally {
      await server.close();
    }
  });
});
