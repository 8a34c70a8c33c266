/**
 * Wake-ups of the change feed from outside this process (docs/notifications.md, ADR 0016). The feed
 * itself never trusts a wake-up for content: it always reads the audit chains after its cursor, so a
 * spurious or duplicated signal costs one read and a lost one is caught up by polling.
 *
 * Changes committed by this process are announced inside the core (`AuditTrail.onCommitted`); an
 * engine implements this port for the commits of other processes and nodes: PostgreSQL with
 * LISTEN/NOTIFY (src/storage/postgres/postgres-change-listener.ts); SQLite has no such channel, and
 * the feed polls the heads of the tenants it watches instead (`live` is always false).
 */
export interface ChangeSignals {
  /**
   * Calls `listener` after audit events of a tenant may have been committed elsewhere. `null`: events
   * of any tenant may have been missed (the channel was re-established), so every watcher should read.
   * Answers the function that stops listening.
   */
  subscribe(listener: (tenantId: string | null) => void): () => void;
  /**
   * True while every commit of every node is announced through `subscribe` (PostgreSQL: while the
   * listen connection is up). While false, the feed polls the chain heads of the tenants it watches.
   */
  live(): boolean;
  close(): Promise<void>;
}

/** No channel at all (SQLite, tests): the feed hears this process's commits and polls for the rest. */
export const NO_CHANGE_SIGNALS: ChangeSignals = Object.freeze({
  subscribe: () => () => undefined,
  live: () => false,
  close: async () => undefined,
});
