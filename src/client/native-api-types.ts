import type {
  ListQuery,
  PutSecretBody,
  RevealResponse,
  SecretView,
  StoreView,
} from '../http/v1/v1-wire-schemas.js';

/**
 * The native API's wire types (docs/native-api.md), as the typed client returns them: read-only views
 * of the types of the route schemas (src/http/v1/v1-wire-schemas.ts), so that the two cannot drift.
 * Type-only: the client loads nothing of the server.
 */

/** A store. */
export type Store = Readonly<StoreView>;

/** A secret's metadata; `version` is null while it has no value. Never a value: see RevealedSecret. */
export type Secret = Readonly<Omit<SecretView, 'value'>>;

export interface RevealedSecret extends Secret {
  readonly value: string;
}

export interface Page<T> {
  readonly items: T[];
  /** Pass it back as `cursor` for the next page; null on the last one. */
  readonly nextCursor: string | null;
}

/** `prefix`, `limit` (1-1000, default 100) and `cursor` (the previous page's `nextCursor`). */
export type ListOptions = Readonly<ListQuery>;

/** The body of a write: absent fields are kept, `null` clears; instants are ISO 8601. */
export type SecretInput = Readonly<Omit<PutSecretBody, 'scopes'>> & {
  // Read-only for the caller's sake: the client never changes the list it is given.
  readonly scopes?: readonly string[];
};

/**
 * A conditional write: `ifMatch` a version (or `*`: it exists), `ifNoneMatch: '*'` (it does not).
 * A failed condition is a CofferApiError with status 412.
 */
export interface WriteCondition {
  readonly ifMatch?: number | '*';
  readonly ifNoneMatch?: '*';
}

export type RevealResult = Readonly<RevealResponse>;

/** RFC 7807, with Coffer's `code` and `traceId`; `errors` on validation failures. */
export interface ProblemDetails {
  readonly type?: string | null;
  readonly title?: string | null;
  readonly status?: number | null;
  readonly detail?: string | null;
  readonly code?: string;
  readonly traceId?: string;
  readonly errors?: Record<string, string[]>;
  readonly [extension: string]: unknown;
}
