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
import type { PostgresConnection } from './postgres-connection.js';
import { str, num, blob, toAuditEvent, AUDIT_COLUMNS } from './postgres-rows.js';

/** Most events one INSERT carries (13 parameters each; PostgreSQL allows 65,535 per statement). */
const INSERT_ROWS_MAX = 256;
/** Most events `appendToChainStatement` takes outside a transaction (one statement). */
export const ONE_STATEMENT_EVENTS_MAX = INSERT_ROWS_MAX;

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

function insertSql(rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    tuples.push(`(${Array.from({ length: 13 }, (_, c) => `$${r * 13 + c + 1}`).join(', ')})`);
  }
  return `INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ${tuples.join(', ')}`;
}

const CHAIN_COLUMNS = 'chain_id, tenant_id, writer_id, seq, hash';

/** The types of AUDIT_COLUMNS, in order: a VALUES list under SELECT takes no types from the table. */
const AUDIT_COLUMN_TYPES = [
  'text',
  'bigint',
  'text',
  'bigint',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'bytea',
  'bytea',
] as const;

/**
 * One statement that moves a chain's head (or creates the chain, `from.seq` 0) and inserts its
 * events only if the head moved: atomic on its own, so it needs no BEGIN and COMMIT. Parameters: the
 * head's five ($1–$5), then each event's thirteen.
 */
function appendToChainSql(create: boolean, rows: number): string {
  const moved = create
    ? `INSERT INTO audit_chains (${CHAIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (chain_id) DO NOTHING RETURNING 1`
    : 'UPDATE audit_chains SET seq = $1, hash = $2 WHERE chain_id = $3 AND seq = $4 AND hash = $5 RETURNING 1';
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    tuples.push(`(${AUDIT_COLUMN_TYPES.map((type, c) => `$${5 + r * 13 + c + 1}::${type}`).join(', ')})`);
  }
  return `WITH moved AS (${moved})
    INSERT INTO audit_events (${AUDIT_COLUMNS})
    SELECT * FROM (VALUES ${tuples.join(', ')}) AS v WHERE EXISTS (SELECT 1 FROM moved)`;
}

/**
 * appendToChain on PostgreSQL: one statement for the head and the first 256 events. More events (a
 * bulk change) follow in plain INSERTs, which only a transaction makes one step with the first: so
 * `inTransaction` false takes at most 256.
 */
export async function appendToChainStatement(
  conn: PostgresConnection,
  chain: AuditChainRef,
  from: AuditHead,
  to: AuditHead,
  events: readonly AuditEventRecord[],
): Promise<boolean> {
  if (events.length === 0) throw new Error('postgres: appendToChain with no events');
  if (!conn.inTransaction && events.length > ONE_STATEMENT_EVENTS_MAX) {
    throw new Error(
      `postgres: appendToChain outside a transaction takes at most ${ONE_STATEMENT_EVENTS_MAX} events`,
    );
  }
  const first = events.slice(0, INSERT_ROWS_MAX);
  const create = from.seq === 0;
  const head = create
    ? [chain.chainId, chain.tenantId, chain.writerId, to.seq, to.hash]
    : [to.seq, to.hash, chain.chainId, from.seq, from.hash];
  const inserted = await conn.changes(
    first.length <= 16 ? `coffer_append_to_chain_${create ? 'new' : 'next'}_${first.length}` : null,
    appendToChainSql(create, first.length),
    [...head, ...first.flatMap(eventParams)],
  );
  if (inserted !== first.length) return false;
  await insertEvents(conn, events.slice(INSERT_ROWS_MAX));
  return true;
}

/** Inserts events (any chains) in as few multi-row INSERTs as a statement's parameters allow. */
async function insertEvents(conn: PostgresConnection, events: readonly AuditEventRecord[]): Promise<void> {
  for (let i = 0; i < events.length; i += INSERT_ROWS_MAX) {
    const chunk = events.slice(i, i + INSERT_ROWS_MAX);
    // Named per row count: a steady load reuses a few prepared plans.
    await conn.executor.run(
      chunk.length <= 16 ? `coffer_append_audit_events_${chunk.length}` : null,
      insertSql(chunk.length),
      chunk.flatMap(eventParams),
    );
  }
}

function chainInfo(row: Row): AuditChainInfo {
  return {
    chainId: str(row, 'chain_id'),
    tenantId: str(row, 'tenant_id'),
    writerId: row['writer_id'] === null ? '' : str(row, 'writer_id'),
    head: row['seq'] === null ? null : { seq: num(row, 'seq'), hash: blob(row, 'hash') },
  };
}

/**
 * The audit chains: the port of src/core/ports/audit.ts
 * on one PostgreSQL connection.
 */
export function postgresAuditQueries(conn: PostgresConnection): AuditReads & AuditWrites {
  /** Filters shared by both listings, numbered after `values`. */
  const filters = (
    q: {
      readonly action?: string;
      readonly actor?: string;
      readonly since?: number;
      readonly until?: number;
    },
    where: string[],
    values: unknown[],
  ): void => {
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(`${clause} $${values.length}`);
    };
    if (q.action !== undefined) add('action =', q.action);
    if (q.actor !== undefined) add('actor =', q.actor);
    if (q.since !== undefined) add('time >=', q.since);
    if (q.until !== undefined) add('time <', q.until);
  };
  const queries: AuditReads & AuditWrites = {
    async listAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
      const values: unknown[] = [q.chainId];
      const where = ['chain_id = $1'];
      if (q.beforeSeq !== undefined) {
        values.push(q.beforeSeq);
        where.push(`seq < $${values.length}`);
      }
      if (q.afterSeq !== undefined) {
        values.push(q.afterSeq);
        where.push(`seq > $${values.length}`);
      }
      filters(q, where, values);
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
    async listTenantAuditEvents(q: TenantAuditQuery): Promise<AuditEventRecord[]> {
      const values: unknown[] = [q.tenantId];
      const where = ['tenant_id = $1'];
      if (q.after !== undefined) {
        values.push(q.after.time, q.after.chainId, q.after.seq);
        const n = values.length;
        where.push(
          `(time, chain_id, seq) ${q.direction === 'desc' ? '<' : '>'} ($${n - 2}, $${n - 1}, $${n})`,
        );
      }
      filters(q, where, values);
      values.push(q.limit);
      const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
      const rows = await conn.all(
        null,
        `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')}
          ORDER BY time ${dir}, chain_id ${dir}, seq ${dir} LIMIT $${values.length}`,
        values,
      );
      return rows.map(toAuditEvent);
    },
    async getAuditHead(chainId: string): Promise<AuditHead | null> {
      const row = await conn.one(
        'coffer_get_audit_head',
        'SELECT seq, hash FROM audit_chains WHERE chain_id = $1',
        [chainId],
      );
      return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
    },
    async listAuditChains(filter?: AuditChainFilter): Promise<AuditChainInfo[]> {
      const tenantId = filter?.tenantId;
      const rows =
        tenantId === undefined
          ? await conn.all(
              'coffer_list_audit_chains',
              `SELECT ${CHAIN_COLUMNS} FROM audit_chains ORDER BY chain_id`,
            )
          : await conn.all(
              'coffer_list_tenant_audit_chains',
              `SELECT ${CHAIN_COLUMNS} FROM audit_chains WHERE tenant_id = $1 ORDER BY chain_id`,
              [tenantId],
            );
      if (filter?.withHeadless === true) {
        // Chains with events but no head row (it was deleted): a scan of the events, for verify only.
        const values: unknown[] = [];
        let where = 'chain_id NOT IN (SELECT chain_id FROM audit_chains)';
        if (tenantId !== undefined) {
          values.push(tenantId);
          where = `tenant_id = $1 AND ${where}`;
        }
        rows.push(
          ...(await conn.all(
            null,
            `SELECT chain_id, MIN(tenant_id) AS tenant_id, NULL AS writer_id, NULL AS seq, NULL AS hash
               FROM audit_events WHERE ${where} GROUP BY chain_id`,
            values,
          )),
        );
      }
      return rows.map(chainInfo).sort(byChainId);
    },
    /** Waits (READ COMMITTED) for a transaction of this process holding the row, then reads its commit. */
    async lockAuditHead(chainId: string): Promise<AuditHead | null> {
      const row = await conn.one(
        'coffer_lock_audit_chain',
        'SELECT seq, hash FROM audit_chains WHERE chain_id = $1 FOR UPDATE',
        [chainId],
      );
      return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
    },
    /**
     * Only the chain's owner writes its row, so the row lock this takes waits at most for another
     * transaction of the same process on the same chain, never for another node. Under READ
     * COMMITTED a waiting UPDATE re-checks its WHERE against the row the other one committed: it
     * then matches (the guess chained on that commit) or not (re-read and chain again).
     */
    async advanceAuditHead(chain: AuditChainRef, from: AuditHead, to: AuditHead): Promise<boolean> {
      if (from.seq === 0) {
        return (
          (await conn.changes(
            'coffer_create_audit_chain',
            `INSERT INTO audit_chains (${CHAIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (chain_id) DO NOTHING`,
            [chain.chainId, chain.tenantId, chain.writerId, to.seq, to.hash],
          )) === 1
        );
      }
      return (
        (await conn.changes(
          'coffer_advance_audit_chain',
          'UPDATE audit_chains SET seq = $1, hash = $2 WHERE chain_id = $3 AND seq = $4 AND hash = $5',
          [to.seq, to.hash, chain.chainId, from.seq, from.hash],
        )) === 1
      );
    },
    appendToChain(
      chain: AuditChainRef,
      from: AuditHead,
      to: AuditHead,
      events: readonly AuditEventRecord[],
    ): Promise<boolean> {
      return appendToChainStatement(conn, chain, from, to, events);
    },
    appendAuditEvents(events: readonly AuditEventRecord[]): Promise<void> {
      return insertEvents(conn, events);
    },
    async announceChanges(tenantIds: readonly string[]): Promise<void> {
      // Sent by the repository once this transaction has committed, never from inside it: a NOTIFY
      // in the transaction serialises its commit with every other notifying one, cluster-wide
      // (postgres-change-announcer.ts). Changes only: reads and refusals announce nothing.
      for (const tenantId of tenantIds) conn.changedTenants.add(tenantId);
    },
  };
  return queries;
}
