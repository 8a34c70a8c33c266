import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './sqlite-connection.js';

/**
 * The server's WAL checkpoints, on a worker thread with a connection of its own
 * (docs/adr/0012-wal-fsync-off-the-event-loop.md): a checkpoint writes WAL pages into the database
 * file and syncs both, which SQLite's automatic checkpoint would do inside a COMMIT on the event loop.
 * PASSIVE: it never waits for a lock and never blocks the writer or the readers; what it cannot copy
 * now is copied by the next one. Asked `{kind: 'truncate'}`, it runs the TRUNCATE checkpoint that
 * scrubs the WAL after a commit removed sealed bytes (docs/adr/0008-deletion-leaves-no-ciphertext.md),
 * while the writer waits for it and commits nothing.
 */
if (parentPort === null) throw new Error('sqlite-checkpoint-worker runs as a worker thread');
const port = parentPort;
const db = openConnection((workerData as { path: string }).path);
port.on('message', (message: unknown) => {
  if (message === 'close') {
    db.close();
    port.close();
    return;
  }
  try {
    if (isTruncate(message)) {
      // The scrub of ADR 0008: blocking here is harmless (this thread serves nothing else), so the
      // wait for other processes' readers is SQLite's busy handler, bounded by the caller's wait.
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(message.waitMs))}`);
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy?: number }[];
      port.postMessage({ ok: true, emptied: result?.busy === 0 });
      return;
    }
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log?: number; checkpointed?: number }[];
    port.postMessage({ ok: true, log: result?.log ?? 0, checkpointed: result?.checkpointed ?? 0 });
  } catch (error) {
    const code = (error as { code?: unknown }).code ?? 'unknown';
    // A TRUNCATE checkpoint that met a lock it could not wait out: the WAL is not empty yet.
    if (isTruncate(message) && (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')) {
      port.postMessage({ ok: true, emptied: false });
      return;
    }
    port.postMessage({ ok: false, code });
  }
});

function isTruncate(message: unknown): message is { kind: 'truncate'; waitMs: number } {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { kind?: unknown }).kind === 'truncate' &&
    typeof (message as { waitMs?: unknown }).waitMs === 'number'
  );
}
