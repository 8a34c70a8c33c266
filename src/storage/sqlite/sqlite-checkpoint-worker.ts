import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './sqlite-connection.js';

/**
 * The server's WAL checkpoints, on a worker thread with a connection of its own
 * (docs/adr/0012-wal-fsync-off-the-event-loop.md): a checkpoint writes WAL pages into the database
 * file and syncs both, which SQLite's automatic checkpoint would do inside a COMMIT on the event loop.
 * PASSIVE: it never waits for a lock and never blocks the writer or the readers; what it cannot copy
 * now is copied by the next one.
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
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log?: number; checkpointed?: number }[];
    port.postMessage({ ok: true, log: result?.log ?? 0, checkpointed: result?.checkpointed ?? 0 });
  } catch (error) {
    port.postMessage({ ok: false, code: (error as { code?: unknown }).code ?? 'unknown' });
  }
});
