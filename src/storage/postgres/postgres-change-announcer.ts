import type pg from 'pg';
import { CHANGES_CHANNEL } from './postgres-change-listener.js';

/**
 * Tells every node's change listener (postgres-change-listener.ts) which tenants' change chains
 * grew, right AFTER the transactions that grew them committed (ADR 0016, "Announced after COMMIT").
 *
 * Not inside them: PostgreSQL takes one cluster-wide lock from a notifying transaction's pre-commit
 * until its commit is flushed, so every notifying commit waited for the previous one's flush (16
 * clients here: 1,300–1,900 commits/s without NOTIFY, 420–500 with it inside the transaction,
 * 1,300–1,350 with it sent after COMMIT; BENCHMARKS.md). Never awaited by a request: tenants to
 * announce while a NOTIFY is in flight are sent together by the next one, one statement for all.
 *
 * Nothing is lost with it: a wake-up carries no content (the feed reads the chains), a rolled-back
 * change is never announced, and an announcement that never went out (the process died between
 * COMMIT and NOTIFY, the database was unreachable) is made up by the feed's periodic look at the
 * heads of watched tenants, which it takes even while the listen connection is live
 * (`LIVE_POLL_EVERY`, src/core/change-feed.ts).
 */
export class PostgresChangeAnnouncer {
  readonly #pool: pg.Pool;
  readonly #pending = new Set<string>();
  #sending: Promise<void> | null = null;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  announce(tenantIds: Iterable<string>): void {
    for (const tenantId of tenantIds) this.#pending.add(tenantId);
    this.#sending ??= this.#send();
  }

  async #send(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        const tenants = [...this.#pending];
        this.#pending.clear();
        try {
          await this.#pool.query({
            name: 'coffer_announce_changes',
            text: `SELECT pg_notify('${CHANGES_CHANNEL}', current_schema() || ' ' || t) FROM unnest($1::text[]) AS t`,
            values: [tenants],
          });
        } catch {
          // Unreachable or closing: the feeds' periodic look at the heads makes up for it.
        }
      }
    } finally {
      this.#sending = null;
    }
  }

  /** Resolves once nothing is being sent (before the pool closes). */
  async idle(): Promise<void> {
    while (this.#sending !== null) await this.#sending;
  }
}
