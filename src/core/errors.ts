/**
 * The closed set of domain errors. They carry no HTTP: each facade maps them once, at its edge,
 * to its own wire shape (ProblemDetails, Cloudflare envelope, envs `{error, code}`).
 */
export type ErrorKind =
  | 'not_found'
  | 'conflict'
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'quota_exceeded'
  | 'rate_limited'
  | 'unavailable';

/** Why access was refused: facades answer a foreign tenant differently from a missing permission. */
export type ForbiddenReason = 'other_tenant' | 'missing_permission' | 'escalation' | 'not_service';

/** Field name → messages, in the order they were found. */
export type FieldErrors = Record<string, string[]>;

export class CofferError extends Error {
  readonly kind: ErrorKind;
  /** A stable, machine-readable code (snake_case), e.g. `secret_not_found`. */
  readonly code: string;

  constructor(kind: ErrorKind, code: string, message: string) {
    super(message);
    this.name = 'CofferError';
    this.kind = kind;
    this.code = code;
  }
}

export class NotFoundError extends CofferError {
  constructor(code: string, message: string) {
    super('not_found', code, message);
  }
}

/**
 * A secret that exists, with a value, whose validity window has not begun: still not found (there is
 * no value to give now), but said so, to a caller allowed to know the secret exists (one holding
 * `secrets:read` on its tenant). Everyone else gets the plain `secret_not_found`.
 */
export class SecretNotYetValidError extends NotFoundError {
  /** When the secret becomes valid (epoch ms): its `notBefore`. */
  readonly validFrom: number;
  constructor(validFrom: number) {
    super(
      'secret_not_yet_valid',
      `The secret is not valid yet: it becomes valid at ${new Date(validFrom).toISOString()}.`,
    );
    this.validFrom = validFrom;
  }
}

export class ConflictError extends CofferError {
  constructor(code: string, message: string) {
    super('conflict', code, message);
  }
}

export class InvalidError extends CofferError {
  readonly fields: FieldErrors;
  constructor(code: string, message: string, fields: FieldErrors = {}) {
    super('invalid', code, message);
    this.fields = fields;
  }

  static field(code: string, field: string, message: string): InvalidError {
    return new InvalidError(code, message, { [field]: [message] });
  }
}

export class UnauthenticatedError extends CofferError {
  /**
   * Why, finer than `code`, for metrics and logs only (coffer_auth_failures_total, docs/observability.md).
   * Never sent: a caller cannot tell an unknown token from a disabled one, or an expired JWT from a forged one.
   */
  readonly reason: string;
  constructor(code = 'unauthenticated', message = 'A valid API key is required.', reason: string = code) {
    super('unauthenticated', code, message);
    this.reason = reason;
  }
}

export class ForbiddenError extends CofferError {
  readonly reason: ForbiddenReason;
  constructor(reason: ForbiddenReason, code: string, message: string) {
    super('forbidden', code, message);
    this.reason = reason;
  }
}

export class QuotaExceededError extends CofferError {
  constructor(code: string, message: string) {
    super('quota_exceeded', code, message);
  }
}

/** Too many requests (or failed authentications) from one caller; retry after `retryAfterSeconds`. */
export class RateLimitedError extends CofferError {
  readonly retryAfterSeconds: number;
  /** A blocked address: when the block ends (epoch ms), for the answer to say so. */
  readonly blockedUntil?: number;
  constructor(
    code: 'too_many_failed_authentications' | 'key_rate_limited',
    retryAfterSeconds: number,
    blocked?: { readonly until: number; readonly client: string },
  ) {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super('rate_limited', code, RateLimitedError.#message(code, seconds, blocked));
    this.retryAfterSeconds = seconds;
    // Whole seconds, rounded up (as Retry-After is): the block is over by then, and every answer
    // (the message, a facade's own field) names the same instant.
    if (blocked !== undefined) this.blockedUntil = Math.ceil(blocked.until / 1000) * 1000;
  }

  static #message(
    code: 'too_many_failed_authentications' | 'key_rate_limited',
    seconds: number,
    blocked: { readonly until: number; readonly client: string } | undefined,
  ): string {
    if (code === 'key_rate_limited') return 'This API key is over its request rate; retry later.';
    if (blocked === undefined) return 'Too many failed authentications from this address; retry later.';
    // Said in full: a valid token refused here is refused for its address, not for itself.
    const until = new Date(Math.ceil(blocked.until / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
    return `This address (${blocked.client}) is blocked after too many failed authentications, until ${until} (retry in ${seconds} s); every token sent from it is refused until then.`;
  }
}

export class UnavailableError extends CofferError {
  constructor(code = 'unavailable', message = 'The service is temporarily unavailable.') {
    super('unavailable', code, message);
  }
}

export function isCofferError(error: unknown): error is CofferError {
  return error instanceof CofferError;
}
