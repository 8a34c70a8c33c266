import { CHANGE_KINDS, type ChangeEvent, type ChangeKind } from '../change-events.js';
import type { FeedPosition } from '../change-events.js';
import type { NewWebhookDelivery, WebhookRecord } from './webhook-records.js';

/**
 * What a webhook can subscribe to: the kinds of the change feed (src/core/change-events.ts: names,
 * ids, versions and times, never a value). A webhook names the kinds it wants; each delivery carries
 * one event.
 */
export const WEBHOOK_EVENT_KINDS: readonly ChangeKind[] = CHANGE_KINDS;

export function isWebhookEventKind(kind: string): kind is ChangeKind {
  return (CHANGE_KINDS as readonly string[]).includes(kind);
}

/** Where webhooks start: the feed's head (the change feed, src/core/change-feed.ts). */
export interface WebhookFeedHead {
  head(tenantId: string): Promise<FeedPosition>;
}

/** The key deliveries keep their order by: the store (its id, else its name), '' for key events. */
export function orderKeyOf(event: ChangeEvent): string {
  return event.store?.id ?? event.store?.name ?? '';
}

/** Whether the webhook wants the event: its kind, and its store when the webhook names stores. */
export function webhookWants(
  webhook: Pick<WebhookRecord, 'eventKinds' | 'stores'>,
  event: ChangeEvent,
): boolean {
  if (!webhook.eventKinds.includes(event.kind)) return false;
  if (webhook.stores.length === 0) return true;
  const store = event.store;
  if (store === null) return false;
  return (
    (store.name !== null && webhook.stores.includes(store.name)) ||
    (store.id !== null && webhook.stores.includes(store.id))
  );
}

/**
 * The delivery of one event: the Standard Webhooks body `{type, timestamp, data}`, whose `data` names
 * what changed (tenant, store, secret, version, key, actor) and never holds a value.
 */
export function deliveryOf(event: ChangeEvent): NewWebhookDelivery {
  const body = {
    type: event.kind,
    timestamp: new Date(event.time).toISOString(),
    data: {
      id: event.id,
      tenant: event.tenantId,
      store: event.store,
      secret: event.secret,
      version: event.version,
      apiKey: event.apiKey,
      actor: event.actor,
    },
  };
  return { eventId: event.id, kind: event.kind, store: orderKeyOf(event), payload: JSON.stringify(body) };
}
