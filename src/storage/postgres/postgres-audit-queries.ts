import type { AuditEventRecord, AuditHead, AuditQuery } from '../../core/model.js';
import type { AuditReads, AuditWrites } from '../../core/ports/audit.js';
import { mayRecordChange } from '../../core/change-events.js';
import { CHANGES_CHANNEL } from './postgres-change-listener.js';
import type { PostgresConnection } from './postgres-connection.js';
import { str, num, blob, toAuditEvent, AUDIT_COLUMNS } from './postgres-rows.js';

/**
 * The audit chains: the port of src/core/ports/audit.ts
 * on one PostgreSQL connection.
 */
export function postgresAuditQueries(conn: PostgresConnection): AuditReads & AuditWrites {
  const queries: AuditReads & AuditWrites = {
    async listAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
      const values: unknown[] = [q.tenantId];
      const where = ['tenant_id = $1'];
      const add = (clause: string, value: unknown) => {
        values.push(value);
        where.push(`${clause} $${values.length}`);
      };
      if (q.beforeSeq !== undefined) add('seq <', q.beforeSeq);
      if (q.afterSeq !== undefined) add('seq >', q.afterSeq);
      if (q.action !== undefined) add('action =', q.action);
      if (q.actor !== undefined) add('actor =', q.actor);
      if (q.since !== undefined) add('time >=', q.since);
      if (q.until !== undefined) add('time <', q.until);
      values.push(q.limit);
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      const rows = await conn.all(
        null,
        `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')}
          ORDER BY seq ${dir} LIMIT $${values.length}`,
        values,
      );
      return rows.map(toAuditEvent);
    },
    async getAuditHead(tenantId: string): Promise<AuditHead | null> {
      const row = await conn.one(
        'coffer_get_audit_head',
        'SELECT seq, hash FROM audit_heads WHERE tenant_id = $1',
        [tenantId],
      );
      return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
    },
    async listAuditChains(): Promise<string[]> {
      const rows = await conn.all(
        'coffer_list_audit_chains',
        'SELECT tenant_id FROM audit_heads UNION SELECT tenant_id FROM audit_events ORDER BY 1',
      );
      return rows.map((r) => str(r, 'tenant_id'));
    },
    /**
     * One round trip: creates the head at seq 0 if the chain is new, and in any case row-locks it (the
     * no-op DO UPDATE) until COMMIT. A concurrent appender of the chain waits here, then reads the head
     * that the first one committed (READ COMMITTED re-checks the updated row), so seqs never fork.
     */
    async lockAuditHead(tenantId: string): Promise<AuditHead> {
      const row = await conn.one(
        'coffer_lock_audit_head',
        `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq
         RETURNING seq, hash`,
        [tenantId, Buffer.alloc(32)],
      );
      if (row === null) throw new Error('postgres: the audit head was not returned');
      return { seq: num(row, 'seq'), hash: blob(row, 'hash') };
    },
    async appendAuditEvent(e: AuditEventRecord): Promise<void> {
      await conn.executor.run(
        'coffer_append_audit_event',
        `WITH inserted AS (
           INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         )
         UPDATE audit_heads SET seq = $2, hash = $12 WHERE tenant_id = $1`,
        [
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
        ],
      );
      // Other nodes' change feeds: delivered on COMMIT only (NOTIFY is transactional), once per
      // transaction and tenant (identical payloads are folded). Changes only: a NOTIFY serialises
      // its transaction's commit with other notifying ones, which reads must not pay for.
      if (mayRecordChange(e)) {
        await conn.one(
          'coffer_notify_changes',
          `SELECT pg_notify('${CHANGES_CHANNEL}', current_schema() || ' ' || $1::text) AS sent`,
          [e.tenantId],
        );
      }
    },
  };
  return queries;
}
