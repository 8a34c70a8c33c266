/**
 * A child process for test/audit/audit-chains.test.ts: opens the repository it is given (a SQLite
 * file or a PostgreSQL schema, shared with other such processes), appends audit events for one
 * tenant through a real AuditTrail (reads group-committed, changes in their own transactions, all
 * at once), and prints every event acknowledged to it (from the trail's sink: after the commit) as
 * a JSON line. Exits 0 when every call was acknowledged.
 *
 * argv: <sqlite|postgres> <file or url> <tenant> <operations>
 */
import { OPERATOR } from '../../src/core/actor.js';
import { AuditTrail } from '../../src/core/audit-trail.js';
import { systemClock } from '../../src/core/clock.js';
import type { Repository } from '../../src/core/ports/repository.js';
import { PostgresRepository } from '../../src/storage/postgres/postgres-repository.js';
import { SqliteRepository } from '../../src/storage/sqlite/sqlite-repository.js';

export interface AckedEvent {
  readonly chainId: string;
  readonly tenantId: string;
  readonly seq: number;
  readonly hash: string;
}

async function main(): Promise<number> {
  const [engine, location, tenantId, operations] = process.argv.slice(2);
  if (location === undefined || tenantId === undefined || operations === undefined) return 2;
  const repository: Repository =
    engine === 'sqlite' ? SqliteRepository.open(location) : await PostgresRepository.connect(location);
  const lines: string[] = [];
  const trail = new AuditTrail({
    repository,
    clock: systemClock,
    sink: (events) => {
      for (const e of events) {
        const acked: AckedEvent = {
          chainId: e.chainId,
          tenantId: e.tenantId,
          seq: e.seq,
          hash: e.hash.toString('hex'),
        };
        lines.push(JSON.stringify(acked));
      }
    },
  });
  let failed = 0;
  const ctx = { actor: OPERATOR, requestId: `child-${process.pid}`, clientAddress: 'local' };
  const n = Number(operations);
  try {
    // Ten at a time: reads share group commits, and changes run beside them.
    for (let start = 0; start < n; start += 10) {
      const calls = Array.from({ length: Math.min(10, n - start) }, async (_, j) => {
        const i = start + j;
        const entry = { tenantId, action: 'secret.reveal', resource: `store:default/secret:s${i}` };
        if (i % 4 === 3) {
          await trail.change(ctx, { ...entry, action: 'secret.set-value' }, async (tx) => {
            await tx.setMeta(`child-${process.pid}-${i}`, String(i));
          });
        } else {
          await trail.read(ctx, entry, async () => i);
        }
      });
      for (const r of await Promise.allSettled(calls)) if (r.status === 'rejected') failed++;
    }
  } finally {
    await repository.close();
  }
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  if (failed > 0) process.stderr.write(`${failed} call(s) failed\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 3;
  },
);
