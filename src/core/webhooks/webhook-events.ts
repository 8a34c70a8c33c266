/**
 * What a webhook can subscribe to: the kinds of the change feed (names, versions and times, never
 * values). A webhook names the kinds it wants; each delivery carries one event.
 */
export const WEBHOOK_EVENT_KINDS = [
  'secret.created',
  'secret.value_set',
  'secret.metadata_changed',
  'secret.deleted',
  'store.created',
  'store.deleted',
  'key.created',
  'key.updated',
  'key.deleted',
] as const;

export type WebhookEventKind = (typeof WEBHOOK_EVENT_KINDS)[number];

export function isWebhookEventKind(kind: string): kind is WebhookEventKind {
  return (WEBHOOK_EVENT_KINDS as readonly string[]).includes(kind);
}

/** One committed change, as the feed gives it to the delivery worker. */
export interface WebhookFeedEvent {
  /** Unique and stable: the `webhook-id` of its deliveries. */
  readonly id: string;
  readonly kind: string;
  /** The store's name, or '' for an event about the tenant (keys). */
  readonly store: string;
  /** Epoch ms of the commit. */
  readonly time: number;
  /** The event's fields as sent in `data` (names, ids, versions: never a value). */
  readonly data: Readonly<Record<string, string | number | null>>;
}

/**
 * Where webhooks read committed changes from: the change feed, which is derived from the audit
 * trail (written in the same transaction as each change, so it is an outbox: a rolled-back change
 * has no event, a committed one always has).
 */
export interface WebhookEventSource {
  /** The tenant's position after every event committed so far. */
  head(tenantId: string): Promise<string>;
  /**
   * Up to `limit` events after `cursor`, oldest first, and the position after the last event read
   * (which may be past events that are not changes).
   */
  after(
    tenantId: string,
    cursor: string,
    limit: number,
  ): Promise<{ readonly events: readonly WebhookFeedEvent[]; readonly cursor: string }>;
}
