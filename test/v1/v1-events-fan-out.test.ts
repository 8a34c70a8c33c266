import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { carriesChanges } from '../../src/core/audit-trail.js';
import { ChangeFeed, type FeedReads } from '../../src/core/change-feed.js';
import type { AuditEventRecord } from '../../src/core/model.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const T = 'default';
const READERS = 50;

/**
 * Many subscribers of one tenant, woken by one commit, must not each read the chains: a write with
 * 100 open streams would otherwise cost 100 reads (issue 19: writes may slow by 10% at most).
 */
describe('change feed fan-out', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it('readers woken together at one position share one read of the chains', async () => {
    const repository = server.runtime.repository;
    let eventReads = 0;
    const reads: FeedReads = {
      listAuditChains: (filter) => repository.listAuditChains(filter),
      getAuditHead: (chainId) => repository.getAuditHead(chainId),
      listAuditEvents: (query) => {
        eventReads++;
        return repository.listAuditEvents(query);
      },
    };
    const listeners = new Set<(events: readonly AuditEventRecord[]) => void>();
    const feed = new ChangeFeed({
      reads,
      commits: {
        onCommitted: (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
      pollMs: 3_600_000,
    });
    try {
      const start = await feed.head(T);
      const readers = Array.from({ length: READERS }, () => feed.reader(T, start, () => true));
      const abort = new AbortController();
      const nexts = readers.map((r) => r.next(abort.signal));
      // The first look of each reader (dirty at creation) is shared too, and finds nothing.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const firstLook = eventReads;
      assert.ok(firstLook <= 1, `${firstLook} event reads for ${READERS} readers' first look`);

      const put = await request(server.url, 'PUT', `/api/${T}/secrets/fan-out`, {
        token: server.adminToken,
        body: { value: 'v' },
      });
      assert.ok(put.status < 300);
      // Announce the commit as the trail does (AuditTrail.onCommitted), with the events it wrote.
      const announced: AuditEventRecord[] = [];
      for (const chain of await repository.listAuditChains({ tenantId: T })) {
        if (!carriesChanges(chain.chainId)) continue;
        announced.push(
          ...(await repository.listAuditEvents({ chainId: chain.chainId, direction: 'desc', limit: 1 })),
        );
      }
      assert.ok(announced.length > 0);
      for (const listener of listeners) listener(announced);
      const got = await Promise.all(nexts);
      for (const batch of got) {
        assert.ok(batch !== null && batch.events.some((e) => e.secret?.name === 'fan-out'));
      }
      const afterWake = eventReads - firstLook;
      assert.ok(afterWake >= 1 && afterWake <= 2, `${afterWake} event reads for ${READERS} woken readers`);
      for (const r of readers) r.close();
      abort.abort();
    } finally {
      feed.close();
    }
  });
});
