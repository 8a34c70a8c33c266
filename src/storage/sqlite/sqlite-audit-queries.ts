import { byChainId } from '../../core/audit-chain.js';
import type {
  AuditChainFilter,
  AuditChainInfo,
  AuditChainRef,
  AuditEventRecord,
  AuditHead,
  AuditQuery,
  TenantAuditQuery,
} from '../../core/model.js';
import type { AuditReads, AuditWrites } from '../../core/ports/audit.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import type Database from 'better-sqlite3';
import { num, blob, str, toAuditEvent } from './sqlite-rows.js';

const AUDIT_COLUMNS =
  'chain_id, seq, tenant_id, time, actor, action, resource, outcome, reason, request_id, client_address, prev_hash, hash';

/** Most events one INSERT statement carries (13 parameters each, far below SQLite's 32,766). */
const INSERT_ROWS_MAX = 128;

function eventParams(e: AuditEventRecord): unknown[] {
  return [
    e.chainId,
    e.seq,
    e.tenantId,
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
  ];
}

/** The optional filters shared by both listings. */
function filters(q: {
  readonly action?: string;
  readonly actor?: string;
  readonly since?: number;
  readonly until?: number;
}): { where: string[]; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    args.push(value);
  };
  if (q.action !== undefined) add('action = ?', q.action);
  if (q.actor !== undefined) add('actor = ?', q.actor);
  if (q.since !== undefined) add('time >= ?', q.since);
  if (q.until !== undefined) add('time < ?', q.until);
  return { where, args };
}

/**
 * The audit chains: the port of src/core/ports/audit.ts
 * on one SQLite connection.
 */
export function sqliteAuditQueries(conn: SqliteConnection): AuditReads & AuditWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    getAuditHead: p('SELECT seq, hash FROM audit_chains WHERE chain_id = ?'),
    listAuditChains: p(
      'SELECT chain_id, tenant_id, writer_id, seq, hash FROM audit_chains ORDER BY chain_id',
    ),
    listTenantAuditChains: p(
      'SELECT chain_id, tenant_id, writer_id, seq, hash FROM audit_chains WHERE tenant_id = ? ORDER BY chain_id',
    ),
    // Chains with events but no head row (it was deleted): a scan of the events, for verify only.
    listHeadless: p(
      `SELECT chain_id, MIN(tenant_id) AS tenant_id, NULL AS writer_id, NULL AS seq, NULL AS hash
         FROM audit_events WHERE chain_id NOT IN (SELECT chain_id FROM audit_chains) GROUP BY chain_id`,
    ),
    listTenantHeadless: p(
      `SELECT chain_id, MIN(tenant_id) AS tenant_id, NULL AS writer_id, NULL AS seq, NULL AS hash
         FROM audit_events WHERE tenant_id = ? AND chain_id NOT IN (SELECT chain_id FROM audit_chains)
        GROUP BY chain_id`,
    ),
    createChain: p(
      `INSERT INTO audit_chains (chain_id, tenant_id, writer_id, seq, hash) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (chain_id) DO NOTHING`,
    ),
    advanceChain: p('UPDATE audit_chains SET seq = ?, hash = ? WHERE chain_id = ? AND seq = ? AND hash = ?'),
  };
  const inserts = new Map<number, Database.Statement>();
  const insertOf = (rows: number): Database.Statement => {
    let s = inserts.get(rows);
    if (s === undefined) {
      const one = `(${Array.from({ length: 13 }, () => '?').join(', ')})`;
      s = conn.db.prepare(
        `INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ${Array.from({ length: rows }, () => one).join(', ')}`,
      );
      inserts.set(rows, s);
    }
    return s;
  };
  const chainInfo = (row: Row): AuditChainInfo => ({
    chainId: str(row, 'chain_id'),
    tenantId: str(row, 'tenant_id'),
    writerId: row['writer_id'] === null ? '' : str(row, 'writer_id'),
    head: row['seq'] === null ? null : { seq: num(row, 'seq'), hash: blob(row, 'hash') },
  });
  const queries: AuditReads & AuditWrites = {
    async listAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
      const { where, args } = filters(q);
      where.unshift('chain_id = ?');
      args.unshift(q.chainId);
      if (q.beforeSeq !== undefined) {
        where.push('seq < ?');
        args.push(q.beforeSeq);
      }
      if (q.afterSeq !== undefined) {
        where.push('seq > ?');
        args.push(q.afterSeq);
      }
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      // Prepared once per shape (the filters given), not on every call: the change feed and the
      // webhook worker list a chain's events many times a second.
      const rows = conn
        .prepared(
          `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq ${dir} LIMIT ?`,
        )
        .all(...args, q.limit) as Row[];
      return rows.map(toAuditEvent);
    },
    async listTenantAuditEvents(q: TenantAuditQuery): Promise<AuditEventRecord[]> {
      const { where, args } = filters(q);
      where.unshift('tenant_id = ?');
      args.unshift(q.tenantId);
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      if (q.after !== undefined) {
        where.push(`(time, chain_id, seq) ${q.direction === 'desc' ? '<' : '>'} (?, ?, ?)`);
        args.push(q.after.time, q.after.chainId, q.after.seq);
      }
      // Prepared once per shape (the filters given), not on every call.
      const rows = conn
        .prepared(
          `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')}
            ORDER BY time ${dir}, chain_id ${dir}, seq ${dir} LIMIT ?`,
        )
        .all(...args, q.limit) as Row[];
      return rows.map(toAuditEvent);
    },
    async getAuditHead(chainId: string): Promise<AuditHead | null> {
      const row = stmt.getAuditHead.get(chainId) as Row | undefined;
      return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
    },
    async listAuditChains(filter?: AuditChainFilter): Promise<AuditChainInfo[]> {
      const tenantId = filter?.tenantId;
      const rows = (
        tenantId === undefined ? stmt.listAuditChains.all() : stmt.listTenantAuditChains.all(tenantId)
      ) as Row[];
      if (filter?.withHeadless === true) {
        rows.push(
          ...((tenantId === undefined
            ? stmt.listHeadless.all()
            : stmt.listTenantHeadless.all(tenantId)) as Row[]),
        );
      }
      return rows.map(chainInfo).sort(byChainId);
    },
    /** The single writer connection: no other writer runs while this transaction does. */
    async lockAuditHead(chainId: string): Promise<AuditHead | null> {
      return queries.getAuditHead(chainId);
    },
    /** Only this process writes its chains, and the single writer connection orders its transactions. */
    async advanceAuditHead(chain: AuditChainRef, from: AuditHead, to: AuditHead): Promise<boolean> {
      const result =
        from.seq === 0
          ? stmt.createChain.run(chain.chainId, chain.tenantId, chain.writerId, to.seq, to.hash)
          : stmt.advanceChain.run(to.seq, to.hash, chain.chainId, from.seq, from.hash);
      return result.changes === 1;
    },
    async announceChanges(): Promise<void> {
      // Other writers of a SQLite file are other processes: the change feed polls (ADR 0016).
    },
    async appendToChain(
      chain: AuditChainRef,
      from: AuditHead,
      to: AuditHead,
      events: readonly AuditEventRecord[],
    ): Promise<boolean> {
      if (!(await queries.advanceAuditHead(chain, from, to))) return false;
      await queries.appendAuditEvents(events);
      return true;
    },
    async appendAuditEvents(events: readonly AuditEventRecord[]): Promise<void> {
      for (let i = 0; i < events.length; i += INSERT_ROWS_MAX) {
        const chunk = events.slice(i, i + INSERT_ROWS_MAX);
        insertOf(chunk.length).run(...chunk.flatMap(eventParams));
      }
    },
  };
  return queries;
}
