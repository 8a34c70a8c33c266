import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../../src/composition/runtime.js';
import { splitResource } from '../../src/core/change-events.js';
import type { AuditEventRecord } from '../../src/core/model.js';
import type { TestServer } from '../support/test-server.js';

/** Every event of a chain, oldest first, as the server's repository reads them. */
export async function chainOf(server: TestServer, tenantId: string): Promise<AuditEventRecord[]> {
  return server.runtime.repository.listAuditEvents({ tenantId, direction: 'asc', limit: 100_000 });
}

/** The events appended to a chain while `fn` ran. */
export async function eventsDuring(
  server: TestServer,
  tenantId: string,
  fn: () => Promise<unknown>,
): Promise<AuditEventRecord[]> {
  const before = (await server.runtime.repository.getAuditHead(tenantId))?.seq ?? 0;
  await fn();
  return server.runtime.repository.listAuditEvents({
    tenantId,
    direction: 'asc',
    afterSeq: before,
    limit: 100_000,
  });
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
