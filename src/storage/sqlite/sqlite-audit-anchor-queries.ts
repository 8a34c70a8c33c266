import type { AuditHead } from '../../core/model.js';
import type {
  AuditAnchorReads,
  AuditAnchorWrites,
  RecordedCheckpoint,
} from '../../core/ports/audit-anchors.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { blob, num, str } from './sqlite-rows.js';

/** Checkpoint numbering and prune points: the port of src/core/ports/audit-anchors.ts on SQLite. */
export function sqliteAuditAnchorQueries(conn: SqliteConnection): AuditAnchorReads & AuditAnchorWrites {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    latest: p('SELECT seq, hash, time, line FROM audit_checkpoints ORDER BY seq DESC LIMIT 1'),
    since: p('SELECT seq, hash, time, line FROM audit_checkpoints WHERE time >= ? ORDER BY seq LIMIT 1'),
    record: p(
      'INSERT INTO audit_checkpoints (seq, hash, time, line) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING',
    ),
    prunePoint: p('SELECT seq, hash FROM audit_prune_points WHERE chain_id = ?'),
    deleteEvents: p('DELETE FROM audit_events WHERE chain_id = ? AND seq <= ?'),
    setPrunePoint: p(
      `INSERT INTO audit_prune_points (chain_id, seq, hash) VALUES (?, ?, ?)
       ON CONFLICT (chain_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
       WHERE audit_prune_points.seq <= excluded.seq`,
    ),
  };
  const checkpoint = (row: Row | undefined): RecordedCheckpoint | null =>
    row
      ? { seq: num(row, 'seq'), hash: str(row, 'hash'), time: num(row, 'time'), line: str(row, 'line') }
      : null;
  return {
    async getAuditCheckpointSince(time: number): Promise<RecordedCheckpoint | null> {
      return checkpoint(stmt.since.get(time) as Row | undefined);
    },
    async getLatestAuditCheckpoint(): Promise<RecordedCheckpoint | null> {
      const row = stmt.latest.get() as Row | undefined;
      return row
        ? { seq: num(row, 'seq'), hash: str(row, 'hash'), time: num(row, 'time'), line: str(row, 'line') }
        : null;
    },
    async getAuditPrunePoint(chainId: string): Promise<AuditHead | null> {
      const row = stmt.prunePoint.get(chainId) as Row | undefined;
      return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
    },
    async recordAuditCheckpoint(c: RecordedCheckpoint): Promise<boolean> {
      return stmt.record.run(c.seq, c.hash, c.time, c.line).changes === 1;
    },
    async pruneAuditEvents(chainId: string, through: AuditHead): Promise<number> {
      const deleted = stmt.deleteEvents.run(chainId, through.seq).changes;
      stmt.setPrunePoint.run(chainId, through.seq, through.hash);
      return deleted;
    },
  };
}
