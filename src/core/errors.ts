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

/**
 * Every code a domain error can carry, by kind: closed, like the kinds. Each error class takes only
 * its kind's codes, and each facade maps every code in a table typed over `CofferErrorCode`, so a
 * new or renamed code does not compile until every facade says how it answers it. Codes the HTTP
 * layer raises itself (unknown routes, `/v1` preconditions, envs' name check) are here too: they
 * travel as domain errors to the same mappers.
 */
export const ERROR_CODES = {
  not_found: [
    'tenant_not_found',
    'store_not_found',
    'secret_not_found',
    'secret_not_yet_valid',
    'secret_value_not_found',
    'api_key_not_found',
    'service_not_found',
    'webhook_not_found',
    'route_not_found',
    'method_not_allowed',
  ],
  conflict: [
    'store_name_taken',
    'store_not_empty',
    'secret_name_taken',
    'api_key_exists',
    'service_exists',
    'precondition_failed',
  ],
  invalid: [
    'invalid_tenant_id',
    'invalid_store_name',
    'invalid_secret_name',
    'invalid_api_key_name',
    'invalid_service_name',
    'secret_value_too_long',
    'value_required',
    'invalid_validity_window',
    'invalid_instant',
    'invalid_limit',
    'invalid_cursor',
    'too_many_names',
    'too_many_secrets',
    'unknown_permission',
    'permissions_missing',
    'invalid_precondition',
    'name_mismatch',
    'invalid_webhook',
    'token_not_renewable',
    'token_not_revocable',
  ],
  unauthenticated: ['unauthenticated', 'missing_credentials', 'invalid_credentials', 'login_refused'],
  forbidden: [
    'other_tenant',
    'missing_permission',
    'permission_escalation',
    'service_not_allowed',
    'credential_not_allowed',
    'operator_only',
  ],
  quota_exceeded: ['secret_quota_exceeded', 'maximum_stores_exceeded'],
  rate_limited: ['too_many_failed_authentications', 'key_rate_limited', 'too_many_watchers'],
  unavailable: [
    'unavailable',
    'write_conflict',
    'database_busy',
    'database_unavailable',
    'audit_unavailable',
    'identity_provider_unavailable',
  ],
} as const satisfies Record<ErrorKind, readonly string[]>;

/** The codes of one kind of error. */
export type ErrorCodeOf<K extends ErrorKind> = (typeof ERROR_CODES)[K][number];

/** Every code a domain error can carry. */
export type CofferErrorCode = ErrorCodeOf<ErrorKind>;

/** Why access was refused: facades answer a foreign tenant differently from a missing permission. */
export type ForbiddenReason = 'other_tenant' | 'missing_permission' | 'escalation' | 'not_service';

/** The reason each refusal code stands for: a `ForbiddenError` cannot pair a code with another. */
export const FORBIDDEN_REASONS = {
  other_tenant: 'other_tenant',
  missing_permission: 'missing_permission',
  permission_escalation: 'escalation',
  service_not_allowed: 'not_service',
  credential_not_allowed: 'not_service',
  operator_only: 'not_service',
} as const satisfies Record<ErrorCodeOf<'forbidden'>, ForbiddenReason>;

type ForbiddenArgs = {
  [C in ErrorCodeOf<'forbidden'>]: [reason: (typeof FORBIDDEN_REASONS)[C], code: C, message: string];
}[ErrorCodeOf<'forbidden'>];

/** Field name → messages, in the order they were found. */
export type FieldErrors = Record<string, string[]>;

/**
 * `Error` with V8's `stackTraceLimit` (Node; also Chromium, where the console's bundle runs this
 * file). The console's type-check has no Node types, hence this view instead of `Error.stackTraceLimit`.
 */
const V8_ERROR: { stackTraceLimit?: number; readonly prototype: Error } = Error;

export class CofferError<K extends ErrorKind = ErrorKind> extends Error {
  readonly kind: K;
  /** A stable, machine-readable code (snake_case) of the kind, e.g. `secret_not_found`. */
  readonly code: ErrorCodeOf<K>;

  constructor(kind: K, code: ErrorCodeOf<K>, message: string) {
    // A domain error is an answer (404, 401, 403, …), not a bug: no stack trace is captured. Walking
    // the stack was 7% of the CPU of a refused request (BENCHMARKS.md, "bad token → 401"), which is
    // the request a flood is made of; every facade maps these by kind and code and never logs a stack.
    const limit = V8_ERROR.stackTraceLimit;
    V8_ERROR.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      V8_ERROR.stackTraceLimit = limit;
    }
    this.name = 'CofferError';
    this.kind = kind;
    this.code = code;
  }
}

export class NotFoundError extends CofferError<'not_found'> {
  constructor(code: ErrorCodeOf<'not_found'>, message: string) {
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

export class ConflictError extends CofferError<'conflict'> {
  constructor(code: ErrorCodeOf<'conflict'>, message: string) {
    super('conflict', code, message);
  }
}

export class InvalidError extends CofferError<'invalid'> {
  readonly fields: FieldErrors;
  constructor(code: ErrorCodeOf<'invalid'>, message: string, fields: FieldErrors = {}) {
    super('invalid', code, message);
    this.fields = fields;
  }

  static field(code: ErrorCodeOf<'invalid'>, field: string, message: string): InvalidError {
    return new InvalidError(code, message, { [field]: [message] });
  }
}

export class UnauthenticatedError extends CofferError<'unauthenticated'> {
  /**
   * Why, finer than `code`, for metrics and logs only (coffer_auth_failures_total, docs/observability.md).
   * Never sent: a caller cannot tell an unknown token from a disabled one, or an expired JWT from a forged one.
   */
  readonly reason: string;
  constructor(
    code: ErrorCodeOf<'unauthenticated'> = 'unauthenticated',
    message = 'A valid API key is required.',
    reason: string = code,
  ) {
    super('unauthenticated', code, message);
    this.reason = reason;
  }
}

export class ForbiddenError extends CofferError<'forbidden'> {
  readonly reason: ForbiddenReason;
  constructor(...[reason, code, message]: ForbiddenArgs) {
    super('forbidden', code, message);
    this.reason = reason;
  }
}

export class QuotaExceededError extends CofferError<'quota_exceeded'> {
  constructor(code: ErrorCodeOf<'quota_exceeded'>, message: string) {
    super('quota_exceeded', code, message);
  }
}

/** Too many requests (or failed authentications) from one caller; retry after `retryAfterSeconds`. */
export class RateLimitedError extends CofferError<'rate_limited'> {
  readonly retryAfterSeconds: number;
  /** A blocked address: when the block ends (epoch ms), for the answer to say so. */
  readonly blockedUntil?: number;
  constructor(
    code: ErrorCodeOf<'rate_limited'>,
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
    code: ErrorCodeOf<'rate_limited'>,
    seconds: number,
    blocked: { readonly until: number; readonly client: string } | undefined,
  ): string {
    if (code === 'key_rate_limited') return 'This API key is over its request rate; retry later.';
    if (code === 'too_many_watchers') {
      return 'Too many open change streams for this tenant or API key; close one, or retry later.';
    }
    if (blocked === undefined) return 'Too many failed authentications from this address; retry later.';
    // Said in full: a valid token refused here is refused for its address, not for itself.
    const until = new Date(Math.ceil(blocked.until / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
    return `This address (${blocked.client}) is blocked after too many failed authentications, until ${until} (retry in ${seconds} s); every token sent from it is refused until then.`;
  }
}

export class UnavailableError extends CofferError<'unavailable'> {
  constructor(
    code: ErrorCodeOf<'unavailable'> = 'unavailable',
    message = 'The service is temporarily unavailable.',
  ) {
    super('unavailable', code, message);
  }
}

export function isCofferError(error: unknown): error is CofferError {
  return error instanceof CofferError;
}
