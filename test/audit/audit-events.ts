import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../../src/composition/runtime.js';
import { splitResource } from '../../src/core/change-events.js';
import type { AuditEventRecord } from '../../src/core/model.js';
import type { TestServer } from '../support/test-server.js';

/** Every event of a tenant's chains, oldest first (time, chain, seq), as the server's repository reads them. */
export async function chainOf(server: TestServer, tenantId: string): Promise<AuditEventRecord[]> {
  return server.runtime.repository.listTenantAuditEvents({ tenantId, direction: 'asc', limit: 100_000 });
}

/** The (time, chain, seq) order of a tenant's events across its chains. */
export function byPosition(a: AuditEventRecord, b: AuditEventRecord): number {
  if (a.time !== b.time) return a.time - b.time;
  if (a.chainId !== b.chainId) return a.chainId < b.chainId ? -1 : 1;
  return a.seq - b.seq;
}

/** The events appended to a tenant's chains while `fn` ran, oldest first. */
export async function eventsDuring(
  server: TestServer,
  tenantId: string,
  fn: () => Promise<unknown>,
): Promise<AuditEventRecord[]> {
  const { repository } = server.runtime;
  const before = new Map(
    (await repository.listAuditChains({ tenantId })).map((c) => [c.chainId, c.head?.seq ?? 0]),
  );
  await fn();
  const out: AuditEventRecord[] = [];
  for (const { chainId } of await repository.listAuditChains({ tenantId })) {
    out.push(
      ...(await repository.listAuditEvents({
        chainId,
        direction: 'asc',
        afterSeq: before.get(chainId) ?? 0,
        limit: 100_000,
      })),
    );
  }
  return out.sort(byPosition);
}

/**
 * The short form tests compare: action, resource as addressed (without the change detail, which
 * test/v1/v1-events.test.ts checks), outcome and reason.
 */
export function summary(events: readonly AuditEventRecord[]): string[] {
  return events.map(
    (e) =>
      `${e.action} ${splitResource(e.resource).addressed} ${e.outcome}${e.reason === null ? '' : ` ${e.reason}`}`,
  );
}

/** Opens the SQLite file directly, as an attacker with file access (or a test) would. */
export function openDatabaseFile(dataDir: string, options: { readonly?: boolean } = {}): Database.Database {
  return new Database(join(dataDir, DATABASE_FILE), { readonly: options.readonly ?? false });
}

/** Every audit row of the file, every column as text (blobs in hex): what a secrecy search reads. */
export function allAuditRowsAsText(dataDir: string): string {
  const db = openDatabaseFile(dataDir, { readonly: true });
  try {
    const rows = db.prepare('SELECT * FROM audit_events').all() as Record<string, unknown>[];
    return rows
      .map((row) =>
        Object.values(row)
          .map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : String(v)))
          .join('\t'),
      )
      .join('\n');
  } finally {
    db.close();
  }
}
