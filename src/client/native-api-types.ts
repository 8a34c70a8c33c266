/** The native API's wire types (docs/native-api.md), as the typed client returns them. */

export interface Store {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface Secret {
  readonly id: string;
  readonly name: string;
  readonly storeId: string;
  readonly description: string | null;
  readonly scopes: string[];
  /** The current version, or null while the secret has no value. */
  readonly version: number | null;
  readonly hasValue: boolean;
  readonly notBefore: string | null;
  readonly expiresOn: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface RevealedSecret extends Secret {
  readonly value: string;
}

export interface Page<T> {
  readonly items: T[];
  /** Pass it back as `cursor` for the next page; null on the last one. */
  readonly nextCursor: string | null;
}

export interface ListOptions {
  readonly prefix?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface SecretInput {
  readonly value?: string;
  readonly description?: string | null;
  readonly scopes?: readonly string[];
  /** ISO 8601; null clears. */
  readonly notBefore?: string | null;
  readonly expiresOn?: string | null;
}

/**
 * A conditional write: `ifMatch` a version (or `*`: it exists), `ifNoneMatch: '*'` (it does not).
 * A failed condition is a CofferApiError with status 412.
 */
export interface WriteCondition {
  readonly ifMatch?: number | '*';
  readonly ifNoneMatch?: '*';
}

export interface RevealResult {
  readonly secrets: { name: string; value: string; version: number }[];
  readonly missing: string[];
}

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
