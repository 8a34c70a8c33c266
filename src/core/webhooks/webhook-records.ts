/**
 * A tenant's webhook as stored. The signing secret is sealed (envelope encryption, src/crypto) and
 * bound to the webhook's id and secret version: it never exists in plaintext in the database.
 */
export interface WebhookRecord {
  readonly tenantId: string;
  /** 32 hex. */
  readonly id: string;
  readonly url: string;
  /** Event kinds sent (WEBHOOK_EVENT_KINDS); never empty. */
  readonly eventKinds: readonly string[];
  /** Store names whose events are sent; empty: every store (and tenant-level events). */
  readonly stores: readonly string[];
  readonly enabled: boolean;
  readonly secretKekId: string;
  readonly secretWrappedKey: Buffer;
  readonly secretCiphertext: Buffer;
  /** 1, then +1 per rotation. */
  readonly secretVersion: number;
  /** The change-feed position up to which events were put in the delivery log (opaque to the core). */
  readonly cursor: string;
  /** The number of the last delivery-log entry. */
  readonly lastDelivery: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event to deliver to one webhook, and how its delivery went. */
export interface WebhookDeliveryRecord {
  readonly webhookId: string;
  /** 1, 2, 3… per webhook, in feed order. */
  readonly n: number;
  /** The event's id: the `webhook-id` header, the same on every attempt. */
  readonly eventId: string;
  readonly kind: string;
  /** The store the event is about ('' for tenant-level events): deliveries keep order per store. */
  readonly store: string;
  /** The JSON body sent (names, versions and times only: never a value). */
  readonly payload: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  /** Why the last attempt failed (a status, a timeout, a refused address); null after a success. */
  readonly lastError: string | null;
  /** The receiver's HTTP status of the last attempt, when it answered. */
  readonly lastStatus: number | null;
  /** When the next attempt is due (pending only). */
  readonly nextAttemptAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type NewWebhookDelivery = Pick<WebhookDeliveryRecord, 'eventId' | 'kind' | 'store' | 'payload'>;
