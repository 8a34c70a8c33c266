import type { AuditAnchoring, PruneReport } from '../core/audit-anchoring.js';
import type { SignedCheckpoint } from '../core/audit-checkpoint.js';

/** What the cadence tells the log: never a key, only numbers, chain ids and sink names. */
export interface AnchorCadenceLog {
  written(checkpoint: SignedCheckpoint, pruned: PruneReport | null): void;
  failed(error: unknown): void;
}

/**
 * `coffer serve`'s steady checkpoints (COFFER_AUDIT_ANCHOR_INTERVAL): one every interval, the next
 * timed from the end of the last so two never overlap, each followed by pruning when a retention is
 * configured. A failure is logged and the next tick tries again (a checkpoint a sink missed first).
 */
export function startAnchorCadence(
  anchoring: AuditAnchoring,
  intervalMs: number,
  log: AnchorCadenceLog,
): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    running = anchoring
      .checkpointAndPrune()
      .then(
        ({ checkpoint, pruned }) => log.written(checkpoint, pruned),
        (error: unknown) => log.failed(error),
      )
      .finally(() => {
        running = null;
        if (!stopped) schedule();
      });
  };
  const schedule = () => {
    timer = setTimeout(tick, intervalMs);
    timer.unref();
  };
  if (intervalMs > 0) schedule();
  return {
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await running;
    },
  };
}
