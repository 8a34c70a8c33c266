import type { AuditHead } from '../model.js';

/** A checkpoint as the database records it (docs/adr/0013-audit-anchors.md): its number and hash. */
export interface RecordedCheckpoint {
  readonly seq: number;
  /** SHA-256 of its signed bytes, hex: the next checkpoint's `prev`. */
  readonly hash: string;
  /** Epoch ms. */
  readonly time: number;
  /** The whole signed line, so that a checkpoint a sink lost can be shipped again. */
  readonly line: string;
}

/**
 * What anchoring keeps in the database: the numbering of the checkpoints (so that every process that
 * checkpoints continues one sequence) and each chain's prune point. Neither is trusted by a verifier
 * with anchors: the signed checkpoints outside the database are.
 */
export interface AuditAnchorReads {
  /** The newest recorded checkpoint, or null before the first. */
  getLatestAuditCheckpoint(): Promise<RecordedCheckpoint | null>;
  /** The first recorded checkpoint made at or after `time` (epoch ms), or null. */
  getAuditCheckpointSince(time: number): Promise<RecordedCheckpoint | null>;
  /**
   * The newest event a chain has had pruned (its seq and hash): the remaining events link from it.
   * Null when nothing of the chain was pruned.
   */
  getAuditPrunePoint(chainId: string): Promise<AuditHead | null>;
}

export interface AuditAnchorWrites {
  /** Records a checkpoint; false (and nothing written) when one with this seq exists already. */
  recordAuditCheckpoint(checkpoint: RecordedCheckpoint): Promise<boolean>;
  /**
   * Deletes the chain's events up to and including `through.seq` and records `through` as its prune
   * point, which only moves forward (a slower pruner of the same chain cannot move it back). The
   * caller has checked that a shipped checkpoint covers them.
   */
  pruneAuditEvents(chainId: string, through: AuditHead): Promise<number>;
}
