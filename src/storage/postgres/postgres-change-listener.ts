import type { ChangeSignals } from '../../core/ports/change-signals.js';
import { ListenConnection } from './postgres-listen-connection.js';

/** The channel on which every node hears that a tenant's audit chain recorded a change. */
export const CHANGES_CHANNEL = 'coffer_changes';

/**
 * The change feed's wake-ups from other nodes (ADR 0016): one dedicated connection per node LISTENs
 * on `coffer_changes`, whose payload is `<schema> <tenant id>` (sent after the appending transaction
 * committed: postgres-change-announcer.ts). On the same ListenConnection as the credentials
 * listener (postgres-listen-connection.ts): a heartbeat catches a silent socket, a lost connection is
 * retried, and while it is down `live()` is false, so the feed polls the chain heads; on every
 * (re)connection every watcher is woken (`null`), since notifications sent meanwhile were not heard.
 */
export class PostgresChangeListener implements ChangeSignals {
  readonly #connection: ListenConnection;
  readonly #listeners = new Set<(tenantId: string | null) => void>();

  constructor(url: string) {
    this.#connection = new ListenConnection({
      url,
      channel: CHANGES_CHANNEL,
      applicationName: (schema) => `coffer-changes:${schema}`,
      handlers: {
        notified: (payload, schema) => {
          if (payload === undefined) return;
          const space = payload.indexOf(' ');
          if (space < 0 || payload.slice(0, space) !== schema) return;
          this.#emit(payload.slice(space + 1));
        },
        up: () => this.#emit(null),
        down: () => undefined,
      },
    });
  }

  live(): boolean {
    return this.#connection.listening;
  }

  subscribe(listener: (tenantId: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(tenantId: string | null): void {
    for (const listener of this.#listeners) {
      try {
        listener(tenantId);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  start(): Promise<void> {
    return this.#connection.start();
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}
