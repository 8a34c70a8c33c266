import type { ProblemDetailsView } from '../http/problem-details-schema.js';
import type {
  ListQuery,
  PageOf,
  PutSecretBody,
  RevealResponse,
  SecretView,
  StoreView,
} from '../http/v1/v1-wire-schemas.js';
import type {
  DeliveriesQuery,
  DeliveryPage,
  WebhookBody,
  WebhookList,
  WebhookWireView,
  WebhookWithSecretView,
} from '../http/v1/v1-webhook-wire-schemas.js';

/**
 * The native API's wire types (docs/native-api.md), as the typed client returns them: read-only views
 * of the types of the route schemas (src/http/v1/v1-wire-schemas.ts, src/http/problem-details-schema.ts),
 * so that the two cannot drift. Type-only: the client loads nothing of the server.
 */

/** A store. */
export type Store = Readonly<StoreView>;

/** A secret's metadata; `version` is null while it has no value. Never a value: see RevealedSecret. */
export type Secret = Readonly<Omit<SecretView, 'value'>>;

export interface RevealedSecret extends Secret {
  readonly value: string;
}

/** One page of a list: pass `nextCursor` back as `cursor` for the next one; null on the last. */
export type Page<T> = Readonly<PageOf<T>>;

/** `prefix`, `limit` (1-1000, default 100) and `cursor` (the previous page's `nextCursor`). */
export type ListOptions = Readonly<ListQuery>;

/** The body of a write: absent fields are kept, `null` clears; instants are ISO 8601. */
export type SecretInput = Readonly<Omit<PutSecretBody, 'scopes'>> & {
  // Read-only for the caller's sake: the client never changes the list it is given.
  readonly scopes?: readonly string[];
};

/**
 * A conditional write: `ifMatch` a version (or `*`: it exists), `ifNoneMatch: '*'` (it does not).
 * A failed condition is a CofferApiError with status 412. The client's own: on the wire these are
 * the `If-Match` and `If-None-Match` headers (a quoted version), which no route schema describes.
 */
export interface WriteCondition {
  readonly ifMatch?: number | '*';
  readonly ifNoneMatch?: '*';
}

export type RevealResult = Readonly<RevealResponse>;

/**
 * RFC 7807, with Coffer's `code` and `traceId`; `errors` on validation failures. Read from any
 * non-2xx body that is a JSON object, so even `type`, `title` and `status` may be absent.
 */
export interface ProblemDetails extends Readonly<
  Partial<Pick<ProblemDetailsView, 'type' | 'title' | 'status' | 'detail' | 'code' | 'traceId' | 'errors'>>
> {
  readonly [extension: string]: unknown;
}

/** A webhook as listed and read (docs/notifications.md): never its signing secret. */
export type Webhook = Readonly<WebhookWireView>;

/** A webhook as created or rotated: with its signing secret (`whsec_…`), shown this once. */
export type WebhookWithSecret = Readonly<WebhookWithSecretView>;

/** The tenant's webhooks. */
export type WebhookListing = Readonly<WebhookList>;

/** What a webhook sends where: URL, change kinds, stores (absent or empty: all), enabled. */
export type WebhookInput = Readonly<WebhookBody>;

/** A page of a webhook's delivery log. */
export type DeliveryListing = Readonly<DeliveryPage>;

/** `limit` (1-1000, default 100) and `before` (an entry number: older ones). */
export type DeliveryListOptions = Readonly<DeliveriesQuery>;
