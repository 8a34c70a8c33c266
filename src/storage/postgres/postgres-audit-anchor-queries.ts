import type { AuditHead } from '../../core/model.js';
import type {
  AuditAnchorReads,
  AuditAnchorWrites,
  RecordedCheckpoint,
} from '../../core/ports/audit-anchors.js';
import type { PostgresConnection } from './postgres-connection.js';
import { blob, num, str } from './postgres-rows.js';

/** Checkpoint numbering and prune points: the port of src/core/ports/audit-anchors.ts on PostgreSQL. */
export function postgresAuditAnchorQueries(conn: PostgresConnection): AuditAnchorReads & AuditAnchorWrites {
  return {
    async getAuditCheckpointSince(time: number): Promise<RecordedCheckpoint | null> {
      const row = await conn.one(
        'coffer_audit_checkpoint_since',
        'SELECT seq, hash, time, line FROM audit_checkpoints WHERE time >= $1 ORDER BY seq LIMIT 1',
        [time],
      );
      return row
        ? { seq: num(row, 'seq'), hash: str(row, 'hash'), time: num(row, 'time'), line: str(row, 'line') }
        : null;
    },
    async getLatestAuditCheckpoint(): Promise<RecordedCheckpoint | null> {
      const row = await conn.one(
        'coffer_latest_audit_checkpoint',
        'SELECT seq, hash, time, line FROM audit_checkpoints ORDER BY seq DESC LIMIT 1',
        [],
      );
      return row
        ? { seq: num(row, 'seq'), hash: str(row, 'hash'), time: num(row, 'time'), line: str(row, 'line') }
        : null;
    },
    async getAuditPrunePoint(chainId: string): Promise<AuditHead | null> {
      const row = await conn.one(
        'coffer_get_audit_prune_point',
        'SELECT seq, hash FROM audit_prune_points WHERE chain_id = $1',
        [chainId],
      );
      return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
    },
    async recordAuditCheckpoint(c: RecordedCheckpoint): Promise<boolean> {
      const n = await conn.changes(
        'coffer_record_audit_checkpoint',
        `INSERT INTO audit_checkpoints (seq, hash, time, line) VALUES ($1, $2, $3, $4)
         ON CONFLICT (seq) DO NOTHING`,
        [c.seq, c.hash, c.time, c.line],
      );
      return n === 1;
    },
    async pruneAuditEvents(chainId: string, through: AuditHead): Promise<number> {
      const deleted = await conn.changes(
        'coffer_prune_audit_events',
        'DELETE FROM audit_events WHERE chain_id = $1 AND seq <= $2',
        [chainId, through.seq],
      );
      await conn.changes(
        'coffer_set_audit_prune_point',
        `INSERT INTO audit_prune_points (chain_id, seq, hash) VALUES ($1, $2, $3)
         ON CONFLICT (chain_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
       WHERE audit_prune_points.seq <= excluded.seq`,
        [chainId, through.seq, through.hash],
      );
      return deleted;
    },
  };
}
