import type { AuditEventRecord, AuditHead, AuditQuery } from '../model.js';

/** The audit chains: one per tenant ('' = the platform), each a head and its events by seq. */
export interface AuditReads {
  /** Events of one chain matching the query, in `direction` of seq, at most `limit`. */
  listAuditEvents(query: AuditQuery): Promise<AuditEventRecord[]>;
  /** The chain's recorded head, or null when the chain has none (no event ever, or the row is gone). */
  getAuditHead(tenantId: string): Promise<AuditHead | null>;
  /** Every chain that has a head or an event, sorted ordinally ('' = the platform chain first). */
  listAuditChains(): Promise<string[]>;
}

export interface AuditWrites {
  /**
   * The chain's head, locked until the transaction ends so that writers of one chain append one after
   * another (a linear chain, also across PostgreSQL nodes). Seq 0 and 32 zero bytes for a new chain.
   * Take it last in a transaction: it is the one lock every audited transaction of a tenant shares.
   */
  lockAuditHead(tenantId: string): Promise<AuditHead>;
  /** Appends the event (its seq is the locked head's + 1) and moves the head to it. */
  appendAuditEvent(event: AuditEventRecord): Promise<void>;
}
