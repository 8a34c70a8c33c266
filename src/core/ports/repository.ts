import type { ApiKeyReads, ApiKeyWrites } from './api-keys.js';
import type { AuditReads, AuditWrites } from './audit.js';
import type { AuditChainRef, AuditEventRecord, AuditHead } from '../model.js';
import type { IssuedTokenReads, IssuedTokenWrites } from './issued-tokens.js';
import type { AuditAnchorReads, AuditAnchorWrites } from './audit-anchors.js';
import type { SecretReads, SecretWrites } from './secrets.js';
import type { StoreReads, StoreWrites } from './stores.js';
import type { TenantAndMetaReads, TenantAndMetaWrites } from './tenant-and-meta.js';
import type { WebhookReads, WebhookWrites } from './webhooks.js';
import type { VersionStateReads, VersionStateWrites } from './version-states.js';

/**
 * The one storage contract, owned by the core and composed of one port per area (the files beside
 * this one). Engines (src/storage/sqlite, src/storage/postgres) implement it; the core depends on
 * these files alone. Reads outside a transaction see committed data only. Every write happens inside
 * `transaction`, whose callback receives the handle to run in; a thrown error rolls it back.
 * Inserts that may collide with a concurrent writer return false instead of throwing.
 */
export interface RepositoryReads
  extends
    TenantAndMetaReads,
    ApiKeyReads,
    StoreReads,
    SecretReads,
    VersionStateReads,
    AuditReads,
    IssuedTokenReads,
    AuditAnchorReads,
    WebhookReads {}

export interface RepositoryTx
  extends
    RepositoryReads,
    TenantAndMetaWrites,
    ApiKeyWrites,
    StoreWrites,
    SecretWrites,
    VersionStateWrites,
    AuditWrites,
    WebhookWrites,
    IssuedTokenWrites,
    AuditAnchorWrites {}

export interface Repository extends RepositoryReads {
  readonly engine: 'sqlite' | 'postgres';
  /**
   * Whether two `transaction` callbacks can be open at once (PostgreSQL: one pooled connection each).
   * False when transactions run one after another (SQLite's group commit runs the callbacks of a batch
   * in turn, inside one COMMIT): there, one callback waiting for another's commit would never end.
   */
  readonly concurrentTransactions: boolean;
  transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T>;
  /**
   * Makes every commit this process can read durable, whoever made it. Only where a commit can be
   * visible before it is durable: SQLite, whose writers (this server, the CLI) sync the WAL after
   * COMMIT; one sync of the shared WAL here covers another process's frames. Absent on PostgreSQL,
   * where a commit is visible only once durable. The change feed calls it before it reads past a
   * head another process moved (ADR 0016).
   */
  syncVisibleCommits?(): Promise<void>;
  /**
   * Whether writes are in progress now: SQLite's group commit is building, committing or scrubbing a
   * batch; on PostgreSQL, a transaction of this node is in flight. Background work (the webhook
   * worker) yields to them: its CPU would be taken from the writes (on SQLite, the WAL checkpoint
   * thread each commit waits for; on PostgreSQL, the event loop that runs their statements), and
   * every write would wait longer (docs/notifications.md, "Writes come first"). A flag read, cheap.
   */
  writerBusy(): boolean;
  /**
   * In one atomic, durable step of its own (not inside a `transaction`): moves `chain`'s head from
   * `from` to `to` and inserts `events` (that chain's, in order), or, when the head is not at `from`,
   * writes nothing and answers false. The audit trail's batches of reads and refusals (ADR 0011):
   * PostgreSQL makes it one statement, one round trip instead of BEGIN, two statements and COMMIT.
   */
  appendToChain(
    chain: AuditChainRef,
    from: AuditHead,
    to: AuditHead,
    events: readonly AuditEventRecord[],
  ): Promise<boolean>;
  /**
   * Changes (synchronously observable, cheaply) whenever an API key, service credential or issued
   * token (revoked, renewed) may have changed anywhere, including in another process or node:
   * caches of key lookups are valid only while it stays the same. NaN when the engine cannot
   * currently tell (nothing is cached then).
   */
  credentialsEpoch(): number;
  /** Throws when the database cannot be reached (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
