import { open } from 'node:fs/promises';
import type { CheckpointSink } from '../core/audit-anchoring.js';

/**
 * The anchors file (COFFER_AUDIT_ANCHOR_FILE): one checkpoint per line, appended and fsynced before
 * the checkpoint counts as shipped. Append-only by use; make it append-only on the host too
 * (`chattr +a`, a WORM bucket behind a shipper: docs/operations.md).
 */
export function fileCheckpointSink(path: string): CheckpointSink {
  return {
    name: `file ${path}`,
    async write(_checkpoint, line) {
      const handle = await open(path, 'a', 0o640);
      try {
        await handle.write(`${line}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
  };
}

/** A stream (the server's stdout, COFFER_AUDIT_ANCHOR_STDOUT): the line, for a log shipper to carry off. */
export function streamCheckpointSink(name: string, out: NodeJS.WritableStream): CheckpointSink {
  return {
    name,
    write(_checkpoint, line) {
      return new Promise((resolve, reject) => {
        out.write(`${line}\n`, (error) => (error ? reject(error) : resolve()));
      });
    },
  };
}
