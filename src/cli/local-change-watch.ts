import { OPERATOR } from '../core/actor.js';
import type { Runtime } from '../composition/runtime.js';
import { type ChangeWatch, concerns } from './change-watch.js';
import type { StoreAddress } from './secret-source.js';

/**
 * The store's changes in the data directory, through the core's change feed as the operator: this
 * process hears its own commits, and polls the chain heads for those of others (the server, other
 * CLI runs) every COFFER_WATCH_POLL_MS (default 1 s).
 */
export async function openLocalChangeWatch(
  runtime: Runtime,
  address: StoreAddress,
  names: readonly string[] | null,
): Promise<ChangeWatch> {
  const watched = names === null ? null : new Set(names);
  const watch = await runtime.core.watch.open(OPERATOR, address.tenant, { store: { ref: address.store } });
  const pending: string[] = [];
  return {
    async next(signal) {
      for (;;) {
        const why = pending.shift();
        if (why !== undefined) return why;
        const batch = await watch.reader.next(signal);
        if (batch === null) return null;
        if (batch.resync) pending.push('changes were missed (resync)');
        for (const change of batch.events) {
          const reason = concerns(change, watched);
          if (reason !== null) pending.push(reason);
        }
      }
    },
    async close() {
      watch.close();
    },
  };
}
