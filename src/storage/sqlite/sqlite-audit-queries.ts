import type { AuditEventRecord, AuditHead, AuditQuery } from '../../core/model.js';
import type { AuditReads, AuditWrites } from '../../core/ports/audit.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { num, blob, toAuditEvent } from './sqlite-rows.js';

const AUDIT_COLUMNS =
  'tenant_id, seq, time, actor, action, resource, outcome, reason, request_id, client_address, prev_hash, hash';

/**
 * The audit chains: the port of src/core/ports/audit.ts
 * on one SQLite connection.
 */
export function sqliteAuditQueries(conn: SqliteConnection): AuditReads & AuditWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    getAuditHead: p('SELECT seq, hash FROM audit_heads WHERE tenant_id = ?'),
    listAuditChains: p(
      'SELECT tenant_id FROM audit_heads UNION SELECT tenant_id FROM audit_events ORDER BY 1',
    ).pluck(),
    insertAuditEvent: p(
      `INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    setAuditHead: p(
      `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
    ),
  };
  const queries: AuditReads & AuditWrites = {
    async listAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
      const where = ['tenant_id = ?'];
      const args: unknown[] = [q.tenantId];
      const add = (clause: string, value: unknown) => {
        where.push(clause);
        args.push(value);
      };
      if (q.beforeSeq !== undefined) add('seq < ?', q.beforeSeq);
      if (q.afterSeq !== undefined) add('seq > ?', q.afterSeq);
      if (q.action !== undefined) add('action = ?', q.action);
      if (q.actor !== undefined) add('actor = ?', q.actor);
      if (q.since !== undefined) add('time >= ?', q.since);
      if (q.until !== undefined) add('time < ?', q.until);
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      const rows = conn.db
        .prepare(
          `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq ${dir} LIMIT ?`,
        )
        .all(...args, q.limit) as Row[];
      return rows.map(toAuditEvent);
    },
    async getAuditHead(tenantId: string): Promise<AuditHead | null> {
      const row = stmt.getAuditHead.get(tenantId) as Row | undefined;
      return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
    },
    async listAuditChains(): Promise<string[]> {
      return stmt.listAuditChains.all() as string[];
    },
    /** The single writer connection already serialises every transaction: reading the head is enough. */
    async lockAuditHead(tenantId: string): Promise<AuditHead> {
      return (await queries.getAuditHead(tenantId)) ?? { seq: 0, hash: Buffer.alloc(32) };
    },
    async appendAuditEvent(e: AuditEventRecord): Promise<void> {
      stmt.insertAuditEvent.run(
        e.tenantId,
        e.seq,
        e.time,
        e.actor,
        e.action,
        e.resource,
        e.outcome,
        e.reason,
        e.requestId,
        e.clientAddress,
        e.prevHash,
        e.hash,
      );
      stmt.setAuditHead.run(e.tenantId, e.seq, e.hash);
    },
  };
  return queries;
}
