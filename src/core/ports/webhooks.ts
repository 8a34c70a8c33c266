import type {
  NewWebhookDelivery,
  WebhookDeliveryRecord,
  WebhookRecord,
} from '../webhooks/webhook-records.js';

/** Webhooks (per tenant) and their delivery log, with the lease that keeps one node delivering each. */
export interface WebhookReads {
  getWebhook(tenantId: string, id: string): Promise<WebhookRecord | null>;
  /** A tenant's webhooks, oldest first (created_at, id). */
  listWebhooks(tenantId: string): Promise<WebhookRecord[]>;
  /** Every enabled webhook of every tenant, for the delivery workers. */
  listActiveWebhooks(): Promise<WebhookRecord[]>;
  /** The log, newest first; only entries numbered below `before` when given. */
  listWebhookDeliveries(
    webhookId: string,
    page: { before?: number; limit: number },
  ): Promise<WebhookDeliveryRecord[]>;
  /** The oldest pending entry of each store (the ones due next, order per store), oldest first, at most `limit`. */
  listPendingHeads(webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]>;
  /** How many entries of each store are pending (at most `limit` stores, the most loaded first). */
  countPendingDeliveries(webhookId: string, limit: number): Promise<{ store: string; count: number }[]>;
  /** The store's oldest pending entry numbered above `after`, or null. */
  nextPendingDelivery(webhookId: string, store: string, after: number): Promise<WebhookDeliveryRecord | null>;
}

export interface WebhookWrites {
  insertWebhook(webhook: WebhookRecord): Promise<void>;
  updateWebhook(
    tenantId: string,
    id: string,
    patch: {
      url: string;
      eventKinds: readonly string[];
      stores: readonly string[];
      enabled: boolean;
      updatedAt: number;
    },
  ): Promise<WebhookRecord | null>;
  /** Replaces the sealed signing secret (rotation). */
  setWebhookSecret(
    tenantId: string,
    id: string,
    secret: { kekId: string; wrappedKey: Buffer; ciphertext: Buffer; version: number; updatedAt: number },
  ): Promise<boolean>;
  /** Deletes the webhook and its log. */
  deleteWebhook(tenantId: string, id: string): Promise<boolean>;
  /**
   * Takes or renews the webhook's delivery lease for `owner` until `until`: true when `owner` holds
   * it now (it was free, expired at `now`, or already `owner`'s).
   */
  claimWebhookLease(id: string, owner: string, now: number, until: number): Promise<boolean>;
  /**
   * Appends entries to the log (numbered after the last) and moves the webhook's feed cursor from
   * `from` to `to`, only while `owner` holds the lease and the cursor is still `from`. Answers the
   * number of the last entry (the new ones end there), or null (and nothing written) otherwise.
   */
  enqueueWebhookDeliveries(
    id: string,
    owner: string,
    cursor: { from: string; to: string },
    deliveries: readonly NewWebhookDelivery[],
    now: number,
  ): Promise<number | null>;
  /** The outcome of one attempt at entry `n`. */
  recordDeliveryAttempt(
    webhookId: string,
    n: number,
    outcome: {
      status: WebhookDeliveryRecord['status'];
      attempts: number;
      lastError: string | null;
      lastStatus: number | null;
      nextAttemptAt: number | null;
      updatedAt: number;
    },
  ): Promise<void>;
  /** Drops finished (delivered or failed) entries numbered at or below `upTo`. */
  pruneWebhookDeliveries(webhookId: string, upTo: number): Promise<void>;
}
