import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { verifyChain } from '../../src/core/audit-chain.js';
import { AuditTrail } from '../../src/core/audit-trail.js';
import { systemClock } from '../../src/core/clock.js';
import type { AuditEventRecord } from '../../src/core/model.js';
import type { Repository } from '../../src/core/ports/repository.js';
import { PostgresRepository } from '../../src/storage/postgres/postgres-repository.js';
import { SqliteRepository } from '../../src/storage/sqlite/sqlite-repository.js';
import { createTestSchema } from '../support/postgres-test-schema.js';
import { tempDir } from '../support/temp-dir.js';
import type { AckedEvent } from './audit-chain-writer.js';

/**
 * Chains per writer (ADR 0011) on both engines, whatever COFFER_TEST_ENGINE says: several OS
 * processes appending for one tenant over one SQLite file or one PostgreSQL schema at once, a
 * restart, and a writer whose transactions fail or end with an unknown outcome.
 */
const WRITER = fileURLToPath(new URL('./audit-chain-writer.js', import.meta.url));
const TENANT = 'acme';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Storage {
  /** What a child is given to open the same storage. */
  readonly location: string;
  open(): Promise<Repository>;
}

const engines: Record<'sqlite' | 'postgres', () => Promise<Storage>> = {
  sqlite: async () => {
    const dir = tempDir('coffer-audit-chains-');
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'coffer.db');
    SqliteRepository.open(file).close();
    return { location: file, open: async () => SqliteRepository.open(file) };
  },
  postgres: async () => {
    const schema = await createTestSchema();
    cleanups.push(() => schema.drop());
    await (await PostgresRepository.connect(schema.url)).close();
    return { location: schema.url, open: () => PostgresRepository.connect(schema.url) };
  },
};

/** Runs a writer process to its end; its acknowledged events. */
function runWriter(engine: string, location: string, operations: number): Promise<AckedEvent[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, engine, location, TENANT, String(operations)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`writer exited ${code}: ${err}`));
        return;
      }
      resolve(
        out
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as AckedEvent),
      );
    });
  });
}

/** Every chain of the tenant verifies; returns its events by `chainId#seq`. */
async function verifiedEvents(repo: Repository): Promise<Map<string, AuditEventRecord>> {
  const chains = await repo.listAuditChains({ tenantId: TENANT, withHeadless: true });
  const events = new Map<string, AuditEventRecord>();
  for (const chain of chains) {
    const check = await verifyChain(repo, chain);
    assert.equal(check.ok, true, JSON.stringify(check));
    for (const e of await repo.listAuditEvents({
      chainId: chain.chainId,
      direction: 'asc',
      limit: 100_000,
    })) {
      events.set(`${e.chainId}#${e.seq}`, e);
    }
  }
  return events;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`audit chains per writer: ${engine}`, () => {
    it('several processes append for one tenant at once: own chains, all verify, every acknowledged event held', async () => {
      const storage = await engines[engine]();
      const processes = 3;
      const operations = 80;
      const repo = await storage.open();
      try {
        const writing = Promise.all(
          Array.from({ length: processes }, () => runWriter(engine, storage.location, operations)),
        );
        let done = false;
        void writing.finally(() => (done = true)).catch(() => undefined);
        // Verifying while the owners append reports nothing broken (the walk stops at the head it read).
        while (!done) {
          for (const chain of await repo.listAuditChains({ withHeadless: true })) {
            const check = await verifyChain(repo, chain);
            assert.equal(check.ok, true, JSON.stringify(check));
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        const acked = (await writing).flat();
        assert.equal(acked.length, processes * operations, 'every call was acknowledged with its event');

        const chains = await repo.listAuditChains({ tenantId: TENANT });
        // One chain of changes and one of reads per process, no chain shared by two processes.
        assert.equal(chains.length, processes * 2);
        const writers = new Set(chains.map((c) => c.writerId));
        assert.equal(writers.size, processes);
        for (const writer of writers) assert.match(writer, /^[0-9a-f]{24}$/);
        const stored = await verifiedEvents(repo);
        for (const a of acked) {
          assert.equal(
            stored.get(`${a.chainId}#${a.seq}`)?.hash.toString('hex'),
            a.hash,
            `${a.chainId}#${a.seq}`,
          );
          assert.equal(a.tenantId, TENANT);
        }
        assert.equal(stored.size, acked.length, 'nothing but the acknowledged events');
        const listed = await repo.listTenantAuditEvents({
          tenantId: TENANT,
          direction: 'desc',
          limit: 100_000,
        });
        assert.equal(listed.length, acked.length, "the tenant's listing spans all its chains");

        // A restart is a new writer: it starts chains of its own; the old ones stay as they were.
        const heads = new Map(chains.map((c) => [c.chainId, c.head?.seq]));
        const again = await runWriter(engine, storage.location, 8);
        const after = await repo.listAuditChains({ tenantId: TENANT });
        assert.equal(after.length, processes * 2 + 2);
        for (const e of again) assert.equal(heads.has(e.chainId), false, 'not appended to an old chain');
        for (const c of after) {
          if (heads.has(c.chainId)) assert.equal(c.head?.seq, heads.get(c.chainId));
        }
        assert.equal((await verifiedEvents(repo)).size, acked.length + again.length);
      } finally {
        await repo.close();
      }
    });

    it('the head kept in memory recovers after a failed transaction and after an unknown outcome', async () => {
      const storage = await engines[engine]();
      const real = await storage.open();
      cleanups.push(() => real.close());
      // The next transaction (or one-step append of a batch of reads, Repository.appendToChain)
      // either rolls back after the events were appended (its COMMIT failed), or commits and then
      // reports a failure (the answer to COMMIT was lost).
      let fault: 'none' | 'rolled-back' | 'committed-but-lost' = 'none';
      const repo = new Proxy(real, {
        get(target, prop) {
          if (prop === 'appendToChain') {
            return async (...args: Parameters<Repository['appendToChain']>): Promise<boolean> => {
              const mode = fault;
              fault = 'none';
              if (mode === 'rolled-back') throw new Error('COMMIT failed');
              const moved = await target.appendToChain(...args);
              if (mode === 'committed-but-lost') throw new Error('connection lost during COMMIT');
              return moved;
            };
          }
          if (prop === 'transaction') {
            return async <T>(fn: Parameters<Repository['transaction']>[0]): Promise<T> => {
              const mode = fault;
              fault = 'none';
              const value = (await target.transaction(async (tx) => {
                const v = await fn(tx);
                if (mode === 'rolled-back') throw new Error('COMMIT failed');
                return v;
              })) as T;
              if (mode === 'committed-but-lost') throw new Error('connection lost during COMMIT');
              return value;
            };
          }
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const acked: AuditEventRecord[] = [];
      const trail = new AuditTrail({ repository: repo, clock: systemClock, sink: (e) => acked.push(...e) });
      const ctx = { actor: OPERATOR, requestId: 'r', clientAddress: 'local' };
      const entry = (i: number) => ({ tenantId: TENANT, action: 'secret.reveal', resource: `secret:s${i}` });
      const read = (i: number) => trail.read(ctx, entry(i), async () => i);
      const change = (i: number) =>
        trail.change(ctx, { ...entry(i), action: 'secret.set-value' }, (tx) => tx.setMeta(`k${i}`, 'v'));

      for (let i = 0; i < 3; i++) await read(i);
      await change(3);
      for (const [mode, call] of [
        ['rolled-back', read],
        ['rolled-back', change],
        ['committed-but-lost', read],
        ['committed-but-lost', change],
      ] as const) {
        fault = mode;
        // A read fails closed (503); a change fails with its own error, recorded as a refusal (`error`).
        await assert.rejects(call(10), call === read ? { code: 'audit_unavailable' } : /COMMIT/);
        await read(11);
        await change(12);
      }
      const stored = await verifiedEvents(real);
      // Acknowledged: 3 + 1, then 2 per round and the 2 failed changes' error events; committed
      // without an answer: one read's and one change's. Rolled back: none of theirs.
      assert.equal(acked.length, 14);
      assert.equal(stored.size, 16);
      for (const e of acked) assert.ok(stored.has(`${e.chainId}#${e.seq}`));
      const chains = await real.listAuditChains({ tenantId: TENANT });
      assert.deepEqual(
        chains.map((c) => c.head?.seq ?? 0).sort((a, b) => a - b),
        [6, 10],
        'no seq skipped or reused: changes 1 + 4 + 1 lost; reads 3 + 4 + 2 error events + 1 lost',
      );
    });

    it('concurrent changes of one process on one chain stay linear, also when some roll back', async () => {
      const storage = await engines[engine]();
      const real = await storage.open();
      cleanups.push(() => real.close());
      let transactions = 0;
      // Every fifth transaction fails after its events were appended (its COMMIT failed); the
      // refusals that record the failed changes are transactions too (and may fail alike: lost).
      const repo = new Proxy(real, {
        get(target, prop) {
          if (prop === 'transaction') {
            return <T>(fn: Parameters<Repository['transaction']>[0]): Promise<T> => {
              const doomed = transactions++ % 5 === 4;
              return target.transaction(async (tx) => {
                const v = await fn(tx);
                if (doomed) throw new Error('COMMIT failed');
                return v;
              }) as Promise<T>;
            };
          }
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const trail = new AuditTrail({ repository: repo, clock: systemClock });
      const ctx = { actor: OPERATOR, requestId: 'r', clientAddress: 'local' };
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          trail.change(
            ctx,
            { tenantId: TENANT, action: 'secret.set-value', resource: `secret:s${i}` },
            (tx) => tx.setMeta(`k${i}`, 'v'),
          ),
        ),
      );
      const failed = results.filter((r) => r.status === 'rejected').length;
      assert.ok(failed > 0 && failed < 40, `${failed} failed`);
      const stored = [...(await verifiedEvents(real)).values()];
      const changes = stored.filter((e) => e.action === 'secret.set-value' && e.outcome === 'allowed');
      assert.equal(changes.length, 40 - failed, 'one event per committed change, none of a rolled-back one');
      const chainIds = new Set(changes.map((e) => e.chainId));
      assert.equal(chainIds.size, 1, 'one chain of changes');
      assert.deepEqual(
        changes.map((e) => e.seq).sort((a, b) => a - b),
        Array.from({ length: changes.length }, (_, i) => i + 1),
      );

      // Many more at once than the pool has connections, none failing, on a chain not yet created:
      // each takes the chain's head in turn (a stale guess then waits for the row, not for luck).
      const plain = new AuditTrail({ repository: real, clock: systemClock });
      const burst = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) =>
          plain.change(
            ctx,
            { tenantId: TENANT, action: 'secret.set-value', resource: `secret:b${i}` },
            (tx) => tx.setMeta(`b${i}`, 'v'),
          ),
        ),
      );
      assert.deepEqual(
        burst.filter((r) => r.status === 'rejected'),
        [],
      );
      const [burstChain] = (await real.listAuditChains({ tenantId: TENANT })).filter(
        (c) => c.writerId === plain.writerId,
      );
      assert.equal(burstChain?.head?.seq, 60);
      assert.equal((await verifyChain(real, burstChain ?? { chainId: '', tenantId: '' })).ok, true);
    });
  });
}
