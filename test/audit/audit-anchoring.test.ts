import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { buildAuditAnchoring } from '../../src/composition/runtime.js';
import { checkAgainstAnchors } from '../../src/core/audit-anchor-check.js';
import { CheckpointShippingError, type CheckpointSink } from '../../src/core/audit-anchoring.js';
import { verifyChain } from '../../src/core/audit-chain.js';
import type { SignedCheckpoint } from '../../src/core/audit-checkpoint.js';
import { generateAnchorKey } from '../../src/crypto/anchor-key.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer, testEngine } from '../support/test-server.js';
import { openDatabaseFile } from './audit-events.js';

/**
 * AuditAnchoring in a real server's process, on the engine of COFFER_TEST_ENGINE: a sink that fails
 * gets the same checkpoint again before any newer one, and pruning leaves a chain that does not
 * verify alone (the evidence is kept).
 */
const engine = testEngine();
const outside = tempDir();
after(() => outside.remove());
const key = join(outside.path, 'anchor.pem');
before(() => generateAnchorKey(key));

async function sql(server: TestServer, text: string): Promise<void> {
  if (server.engine === 'sqlite') {
    const db = openDatabaseFile(server.dataDir);
    try {
      db.exec(text);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: server.databaseUrl ?? '' });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

describe(`audit anchoring in process (${engine})`, () => {
  it('a sink that failed gets the same checkpoint again before the next one', async () => {
    const file = join(outside.path, `retry-${engine}.jsonl`);
    const server = await startTestServer({
      env: { COFFER_AUDIT_ANCHOR_KEY: key, COFFER_AUDIT_ANCHOR_FILE: file },
    });
    try {
      await request(server.url, 'GET', '/api/default/secrets', { token: server.adminToken });
      let failing = true;
      const got: number[] = [];
      const flaky: CheckpointSink = {
        name: 'flaky',
        async write(checkpoint) {
          if (failing) throw new Error('collector unreachable');
          got.push(checkpoint.seq);
        },
      };
      const anchoring = buildAuditAnchoring(server.runtime.config, server.runtime.repository, {
        extraSinks: [flaky],
      });
      assert.ok(anchoring);
      await assert.rejects(
        anchoring.checkpoint(),
        (error) =>
          error instanceof CheckpointShippingError &&
          error.seq === 1 &&
          /checkpoint 1 could not be written to flaky \(collector unreachable\)/.test(error.message),
      );
      // Still failing: no new number is taken while checkpoint 1 is owed.
      await assert.rejects(anchoring.checkpoint(), /checkpoint 1 could not be written to flaky/);
      assert.equal((await server.runtime.repository.getLatestAuditCheckpoint())?.seq, 1);
      failing = false;
      const next = await anchoring.checkpoint();
      assert.equal(next.seq, 2);
      assert.deepEqual(got, [1, 2]);
      // The file took checkpoint 1 the first time and is not given it twice.
      const seqs = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq);
      assert.deepEqual(seqs, [1, 2]);
    } finally {
      await server.close();
    }
  });

  it('pruning leaves alone a chain that does not verify up to the checkpoint', async () => {
    let now = Date.parse('2020-06-01T00:00:00Z');
    const server = await startTestServer({
      clock: { now: () => now },
      env: {
        COFFER_AUDIT_ANCHOR_KEY: key,
        COFFER_AUDIT_ANCHOR_FILE: join(outside.path, `prune-${engine}.jsonl`),
        COFFER_AUDIT_RETENTION: '30d',
      },
    });
    try {
      const token = server.adminToken;
      for (let i = 0; i < 3; i++) {
        await request(server.url, 'PUT', `/api/default/secrets/s${i}`, { token, body: { value: `v${i}` } });
        await request(server.url, 'GET', `/api/default/secrets/s${i}`, { token });
      }
      now = Date.now();
      await request(server.url, 'GET', '/api/default/secrets/s0', { token });
      const chains = await server.runtime.repository.listAuditChains({ tenantId: 'default' });
      const reads = chains.find((c) => c.chainId.includes('/r/'));
      const changes = chains.find((c) => c.chainId.includes('/c/'));
      assert.ok(reads && changes);
      await sql(
        server,
        `UPDATE audit_events SET actor = 'key:nobody' WHERE chain_id = '${changes.chainId}' AND seq = 2`,
      );
      const anchoring = buildAuditAnchoring(server.runtime.config, server.runtime.repository);
      assert.ok(anchoring);
      const { pruned } = await anchoring.checkpointAndPrune();
      assert.ok(pruned);
      assert.deepEqual(
        pruned.refused.map((r) => [r.chainId, r.problem]),
        [[changes.chainId, 'it does not verify at seq 2']],
      );
      assert.ok(pruned.chains.some((c) => c.chainId === reads.chainId && c.through >= 3));
      assert.equal(await server.runtime.repository.getAuditPrunePoint(changes.chainId), null);
      const left = await server.runtime.repository.listAuditEvents({
        chainId: changes.chainId,
        direction: 'asc',
        limit: 100,
      });
      assert.equal(left[0]?.seq, 1);
    } finally {
      await server.close();
    }
  });

  it('pruning reads only up to the first checkpoint made after the cutoff, and prunes no further', async () => {
    let now = Date.parse('2020-06-01T00:00:00Z');
    const server = await startTestServer({
      clock: { now: () => now },
      env: {
        COFFER_AUDIT_ANCHOR_KEY: key,
        COFFER_AUDIT_ANCHOR_FILE: join(outside.path, `bound-${engine}.jsonl`),
        COFFER_AUDIT_RETENTION: '30d',
      },
    });
    try {
      const token = server.adminToken;
      const read = () => request(server.url, 'GET', '/api/default/secrets', { token });
      for (let i = 0; i < 3; i++) await read();
      const day = 86_400_000;
      let anchorTime = Date.now() - 10 * day;
      const anchoring = buildAuditAnchoring(server.runtime.config, server.runtime.repository, {
        clock: { now: () => anchorTime },
      });
      assert.ok(anchoring);
      // Checkpoint A, ten days ago (after the cutoff of a 30-day retention), then more old events.
      const a = await anchoring.checkpoint();
      const chain = (await server.runtime.repository.listAuditChains({ tenantId: 'default' })).find((c) =>
        c.chainId.includes('/r/'),
      );
      assert.ok(chain);
      const stated = a.chains.find((c) => c.chain === chain.chainId)?.seq ?? 0;
      assert.equal(stated, 3);
      for (let i = 0; i < 3; i++) await read();
      now = Date.now();
      await read();
      anchorTime = Date.now();
      const { checkpoint, pruned } = await anchoring.checkpointAndPrune();
      assert.equal(checkpoint.chains.find((c) => c.chain === chain.chainId)?.seq, 7);
      // Old events 4-6 came after A: pruned next time (when a checkpoint after the cutoff covers them).
      assert.deepEqual(
        pruned?.chains.filter((c) => c.chainId === chain.chainId).map((c) => c.through),
        [stated - 1],
      );
      assert.deepEqual(await server.runtime.repository.getAuditPrunePoint(chain.chainId), {
        seq: stated - 1,
        hash: (
          await server.runtime.repository.listAuditEvents({
            chainId: chain.chainId,
            direction: 'asc',
            limit: 1,
          })
        )[0]?.prevHash,
      });
    } finally {
      await server.close();
    }
  });

  it('checks every head any checkpoint states, also past 64 of them on one chain', async () => {
    const server = await startTestServer({
      env: {
        COFFER_AUDIT_ANCHOR_KEY: key,
        COFFER_AUDIT_ANCHOR_FILE: join(outside.path, `many-${engine}.jsonl`),
      },
    });
    try {
      const anchoring = buildAuditAnchoring(server.runtime.config, server.runtime.repository);
      assert.ok(anchoring);
      const made: SignedCheckpoint[] = [];
      for (let i = 0; i < 70; i++) {
        await request(server.url, 'GET', '/api/default/secrets', { token: server.adminToken });
        made.push(await anchoring.checkpoint());
      }
      const repo = server.runtime.repository;
      const checks = [];
      for (const chain of await repo.listAuditChains()) checks.push(await verifyChain(repo, chain));
      assert.deepEqual((await checkAgainstAnchors(repo, made, checks)).problems, []);
      // Checkpoint 30 stating another hash for the reads chain than the event it names now.
      const reads = checks.find((c) => c.tenantId === 'default' && c.chainId.includes('/r/'));
      assert.ok(reads);
      const forged = made.map((c) =>
        c.seq !== 30
          ? c
          : {
              ...c,
              chains: c.chains.map((e) => (e.chain === reads.chainId ? { ...e, hash: 'ab'.repeat(32) } : e)),
            },
      );
      const seq = made[29]?.chains.find((e) => e.chain === reads.chainId)?.seq;
      const { problems } = await checkAgainstAnchors(repo, forged, checks);
      assert.deepEqual(
        problems.map((p) => [p.kind, p.chainId]),
        [['rewritten', reads.chainId]],
      );
      assert.match(
        problems[0]?.message ?? '',
        new RegExp(`its event ${seq} is not the one checkpoint 30 states`),
      );
    } finally {
      await server.close();
    }
  });
});
