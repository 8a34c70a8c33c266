import type {
  AuditChainFilter,
  AuditChainInfo,
  AuditChainRef,
  AuditEventRecord,
  AuditHead,
  AuditQuery,
  TenantAuditQuery,
} from '../model.js';

/**
 * The audit chains (docs/audit.md, ADR 0011). A chain id is an opaque string. A tenant's trail is
 * the set of its chains: since schema 3 each writing process appends only to chains it alone owns
 * (one per tenant, writer and lane); a chain written before schema 3 has the tenant id ('' = the
 * platform) as its id. Every event keeps its tenant id, so one tenant's chains verify on their own.
 */
export interface AuditReads {
  /** Events of one chain (`query.chainId`) matching the query, in `direction` of seq, at most `limit`. */
  listAuditEvents(query: AuditQuery): Promise<AuditEventRecord[]>;
  /**
   * Events of every chain of one tenant, newest or oldest first in the total order
   * (time, chain id, seq), continuing strictly after `query.after` in that direction.
   */
  listTenantAuditEvents(query: TenantAuditQuery): Promise<AuditEventRecord[]>;
  /** The chain's recorded head, or null when the chain has none (no event ever, or the row is gone). */
  getAuditHead(chainId: string): Promise<AuditHead | null>;
  /**
   * Every chain with a head (or only those of `filter.tenantId`), sorted by chain id ordinally: cheap,
   * from the heads alone. `withHeadless` adds the chains that have events but no head row (it was
   * deleted), with `head: null`: a scan of the events, for verification.
   */
  listAuditChains(filter?: AuditChainFilter): Promise<AuditChainInfo[]>;
}

export interface AuditWrites {
  /**
   * The chain's head, for this transaction to move: on PostgreSQL row-locked until the transaction
   * ends (`SELECT … FOR UPDATE`; only the chain's owner ever takes it, so it waits at most for
   * another transaction of the same process, never for another node); on SQLite the one writer
   * connection already excludes every other writer. Null when the chain has no head row yet.
   */
  lockAuditHead(chainId: string): Promise<AuditHead | null>;
  /**
   * Moves the chain's head from `from` to `to` if it is still at `from`, creating the chain when
   * `from.seq` is 0; false when it was not there (the caller's head in memory was stale: take it with
   * `lockAuditHead`, chain again, retry). Only the chain's owner writes
   * it, so on PostgreSQL this row lock is never contended across processes.
   */
  advanceAuditHead(chain: AuditChainRef, from: AuditHead, to: AuditHead): Promise<boolean>;
  /** Inserts the events (any chains) in as few multi-row INSERTs as the engine allows. */
  appendAuditEvents(events: readonly AuditEventRecord[]): Promise<void>;
  /**
   * `advanceAuditHead` and `appendAuditEvents` of that chain's events (1 to 256, in order) together:
   * both, or nothing and false when the head was not at `from`. PostgreSQL: one statement, one round
   * trip (inside a change's transaction, the part of it that takes turns, ADR 0011).
   */
  appendToChain(
    chain: AuditChainRef,
    from: AuditHead,
    to: AuditHead,
    events: readonly AuditEventRecord[],
  ): Promise<boolean>;
  /**
   * Tells other nodes' change feeds (ADR 0016) that these tenants' change chains grow once this
   * transaction has committed, and never if it rolls back: PostgreSQL NOTIFY after COMMIT, once per
   * tenant (a lost one is made up by the feed's periodic look at the heads). Nothing on SQLite, whose
   * other writers are other processes that the feed polls. Called before the append, so that it is
   * not part of the appends that take turns (ADR 0011).
   */
  announceChanges(tenantIds: readonly string[]): Promise<void>;
}
