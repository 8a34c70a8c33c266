import Type, { type Static } from 'typebox';
import { refTo } from '../response-schemas.js';

/**
 * Webhooks on the wire (docs/notifications.md): the routes validate and serialise with these, and the
 * console takes its types from them. Only `typebox` here, as in v1-wire-schemas.ts.
 */

export const WEBHOOK_ID_PATTERN = '^[0-9a-f]{32}$';
export const DELIVERY_PAGE_MAX = 1000;
export const DELIVERY_PAGE_DEFAULT = 100;

export const WebhookSchema = Type.Object(
  {
    id: Type.String({ description: 'Webhook id (32 hex).' }),
    url: Type.String({ description: 'Where deliveries are POSTed.' }),
    eventKinds: Type.Array(Type.String(), { description: 'The change kinds sent.' }),
    stores: Type.Array(Type.String(), {
      description: 'Store names (or ids) whose changes are sent; empty: all.',
    }),
    enabled: Type.Boolean(),
    secretVersion: Type.Integer({ description: '1, then +1 per rotation of the signing secret.' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'V1Webhook', additionalProperties: false },
);
export type WebhookWireView = Static<typeof WebhookSchema>;

export const WebhookWithSecretSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    eventKinds: Type.Array(Type.String()),
    stores: Type.Array(Type.String()),
    enabled: Type.Boolean(),
    secretVersion: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    secret: Type.String({
      description:
        'The signing secret (`whsec_` + base64), shown this once: Coffer keeps it encrypted and never answers it again.',
    }),
  },
  { $id: 'V1WebhookWithSecret', additionalProperties: false },
);
export type WebhookWithSecretView = Static<typeof WebhookWithSecretSchema>;

export const WebhookList = Type.Object(
  { items: Type.Array(refTo(WebhookSchema)) },
  { description: "The tenant's webhooks, oldest first", additionalProperties: false },
);
export type WebhookList = Static<typeof WebhookList>;

export const WebhookBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description:
        'https or http; no credentials; not a loopback, link-local or private address unless COFFER_WEBHOOKS_ALLOW_PRIVATE=true.',
    }),
    eventKinds: Type.Array(Type.String({ maxLength: 64 }), {
      minItems: 1,
      maxItems: 32,
      description: 'Change kinds to send (docs/notifications.md), e.g. `secret.value-set`.',
    }),
    stores: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
        maxItems: 100,
        description:
          'Only changes of these stores (names or ids); absent or empty: every store, and key changes.',
      }),
    ),
    enabled: Type.Optional(Type.Boolean({ description: 'Default true (create) or unchanged (update).' })),
  },
  { additionalProperties: false },
);
export type WebhookBody = Static<typeof WebhookBody>;

export const DeliverySchema = Type.Object(
  {
    n: Type.Integer({ description: 'The entry number: 1, 2, 3… per webhook, in change order.' }),
    eventId: Type.String({ description: 'The `webhook-id` header of its deliveries.' }),
    kind: Type.String(),
    store: Type.String({ description: "The store's id (or name) it is ordered by; '' for key changes." }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    attempts: Type.Integer(),
    lastError: Type.Union([Type.String(), Type.Null()]),
    lastStatus: Type.Union([Type.Integer(), Type.Null()], {
      description: "The receiver's last HTTP status.",
    }),
    nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'V1WebhookDelivery', additionalProperties: false },
);
export type DeliveryWireView = Static<typeof DeliverySchema>;

export const DeliveryPage = Type.Object(
  {
    items: Type.Array(refTo(DeliverySchema)),
    nextBefore: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Pass as `before` for older entries; null when there are none.',
    }),
  },
  { description: 'The delivery log, newest first', additionalProperties: false },
);
export type DeliveryPage = Static<typeof DeliveryPage>;

export const DeliveriesQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: DELIVERY_PAGE_MAX, default: DELIVERY_PAGE_DEFAULT }),
    ),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'Only entries numbered below this.' })),
  },
  { additionalProperties: false },
);
export type DeliveriesQuery = Static<typeof DeliveriesQuery>;
