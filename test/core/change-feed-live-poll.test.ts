import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChangeFeed, LIVE_POLL_EVERY } from '../../src/core/change-feed.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * A wake-up sent after COMMIT (PostgreSQL's NOTIFY, src/storage/postgres/postgres-change-announcer.ts)
 * is lost if its process dies in between. The feed then still sees the change: while its channel is
 * live it looks at the heads of watched tenants every LIVE_POLL_EVERY poll intervals.
 */
describe('the change feed with a live channel that missed an announcement', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it('wakes the watchers of a tenant whose chains grew, though no signal and no local commit said so', async () => {
    const pollMs = 20;
    // Reads the server's database; hears none of its commits; a channel that claims to be live.
    const feed = new ChangeFeed({
      reads: server.runtime.repository,
      commits: { onCommitted: () => () => undefined },
      signals: { live: () => true, subscribe: () => () => undefined, close: async () => undefined },
      pollMs,
    });
    try {
      let wakes = 0;
      let onWake: (() => void) | null = null;
      const stop = feed.watchTenant('default', () => {
        wakes += 1;
        onWake?.();
      });
      const nextWake = (what: string) =>
        new Promise<void>((resolve, reject) => {
          // Ten times the longest the feed should take: a missing look at the heads fails here.
          const timer = setTimeout(
            () => reject(new Error(`no wake-up: ${what}`)),
            10 * LIVE_POLL_EVERY * pollMs,
          );
          onWake = () => {
            clearTimeout(timer);
            onWake = null;
            resolve();
          };
        });
      // The first look at a tenant wakes its watchers (its baseline).
      await nextWake('the first look');
      const before = wakes;
      const put = await request(server.url, 'PUT', '/api/default/secrets/unannounced', {
        token: server.adminToken,
        body: { value: 'v' },
      });
      assert.equal(put.status, 204);
      await nextWake('the change no signal announced');
      assert.ok(wakes > before);
      stop();
    } finally {
      feed.close();
    }
  });
});
