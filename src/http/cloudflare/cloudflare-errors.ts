import type { FastifyReply, FastifyRequest } from 'fastify';
import { type CofferError, type CofferErrorCode, type ErrorKind, InvalidError } from '../../core/errors.js';
import { MethodNotAllowedError } from '../route-methods.js';
import { classifyRequestError, type RequestFailure, retryAfterOf } from '../request-errors.js';

/**
 * The Cloudflare facade's error catalogue: the one place its numeric codes live. docs/cloudflare-errors.md
 * renders the same table, and a test keeps the two in agreement. Each error's `message` is a sentence
 * for people, as Cloudflare's own are ("Authentication error"); clients key on the numeric code. The
 * message is the catalogue's fixed text, or the core's own message for a domain error (which names
 * the limit, the name taken or the time to wait), never request content or internals. Codes 1001 and 1003 are the ones the
 * real API is seen to send; 10000 and 9106 are avoided on purpose (wrangler answers them by calling
 * `/user` and `/memberships`, which Coffer does not serve).
 */
export const CLOUDFLARE_ERRORS = {
  validation_error: {
    code: 1000,
    status: 400,
    message: 'The request failed validation.',
    when: 'The path, query or body failed its schema.',
  },
  secret_value_too_long: {
    code: 1001,
    status: 400,
    message: 'The secret value is too long: at most 65,536 bytes in UTF-8.',
    when: 'A secret value exceeds 65,536 UTF-8 bytes.',
  },
  invalid_secret_name: {
    code: 1002,
    status: 400,
    message: "The secret name is not valid: 1-127 characters of A-Z, a-z, 0-9, '-' and '_'.",
    when: "A secret name is not 1-127 of A-Z a-z 0-9 '-' '_'.",
  },
  maximum_stores_exceeded: {
    code: 1003,
    status: 403,
    message: 'The account already holds as many stores as it may.',
    when: 'The account already holds its store limit.',
  },
  maximum_secrets_exceeded: {
    code: 1004,
    status: 403,
    message: 'The account already holds as many secrets as its quota allows.',
    when: 'The account already holds its secret quota.',
  },
  invalid_store_name: {
    code: 1005,
    status: 400,
    message: 'The store name is not valid.',
    when: 'A store name is not accepted by Coffer.',
  },
  malformed_body: {
    code: 1006,
    status: 400,
    message: 'The request body is empty or not valid JSON.',
    when: 'The body is empty or not valid JSON.',
  },
  unsupported_media_type: {
    code: 1007,
    status: 415,
    message: 'The request body must be JSON (Content-Type: application/json or text/plain).',
    when: 'The body is neither application/json nor text/plain (both read as JSON).',
  },
  request_too_large: {
    code: 1008,
    status: 413,
    message: 'The request body is too large.',
    when: 'The body exceeds the route’s size limit.',
  },
  invalid_request: {
    code: 1009,
    status: 400,
    message: 'The request is malformed.',
    when: 'The request is malformed in another way (a core rule, or the HTTP layer refused it).',
  },
  authentication_required: {
    code: 1100,
    status: 401,
    message: 'Authentication required: send `Authorization: Bearer <token>`.',
    when: 'No credential was sent.',
  },
  invalid_credentials: {
    code: 1101,
    status: 401,
    message: 'Authentication error: the token is not valid.',
    when: 'The credential is unknown, disabled or malformed.',
  },
  missing_permission: {
    code: 1102,
    status: 403,
    message: 'The token lacks the permission this operation needs.',
    when: 'The token lacks the permission the operation needs (`secrets:read`, `secrets:write`, `secrets:set-value`).',
  },
  credential_not_allowed: {
    code: 1103,
    status: 403,
    message: 'This credential cannot be used on this route.',
    when: 'A service credential on an account route, or a tenant token on a system route.',
  },
  rate_limited: {
    code: 1104,
    status: 429,
    message: 'Too many requests; retry after the time in Retry-After.',
    when: 'Too many failed authentications from the address, or the token is over its request rate; see Retry-After.',
  },
  not_found: {
    code: 1200,
    status: 404,
    message: 'The resource does not exist.',
    when: 'The resource does not exist.',
  },
  account_not_found: {
    code: 1201,
    status: 404,
    message: 'The account does not exist for this token.',
    when: 'The account is not the token’s own, or (system routes) does not exist.',
  },
  store_not_found: {
    code: 1202,
    status: 404,
    message: 'The store does not exist.',
    when: 'No such store in this account (for this caller).',
  },
  secret_not_found: {
    code: 1203,
    status: 404,
    message: 'The secret does not exist.',
    when: 'No such secret in this store.',
  },
  store_not_empty: {
    code: 1300,
    status: 409,
    message: 'The store still holds secrets: delete them first, or pass force=true.',
    when: 'Deleting a store that holds secrets without force=true.',
  },
  store_name_taken: {
    code: 1301,
    status: 409,
    message: 'The account already has a store of that name.',
    when: 'The account already has a store of that name.',
  },
  secret_name_taken: {
    code: 1302,
    status: 409,
    message: 'The store already has a secret of that name.',
    when: 'The store already has a secret of that name.',
  },
  conflict: {
    code: 1303,
    status: 409,
    message: 'The request conflicts with the current state.',
    when: 'Another conflict with the current state.',
  },
  internal_error: {
    code: 1500,
    status: 500,
    message: 'An internal error occurred.',
    when: 'An unexpected failure; details are only logged.',
  },
  service_unavailable: {
    code: 1501,
    status: 503,
    message: 'The service is temporarily unavailable; retry later.',
    when: 'Temporarily unavailable; retrying may succeed.',
  },
  route_not_found: {
    code: 7003,
    status: 404,
    message: 'No route for that URI.',
    when: 'No route for that URI.',
  },
  method_not_allowed: {
    code: 7001,
    status: 405,
    message: 'Method not allowed for this route.',
    when: 'The URI exists, but not with that method; see the Allow header.',
  },
} as const satisfies Record<string, { code: number; status: number; message: string; when: string }>;

export type CloudflareErrorName = keyof typeof CLOUDFLARE_ERRORS;

export interface CloudflareErrorItem {
  readonly code: number;
  readonly message: string;
  readonly source?: { readonly pointer: string };
}

export interface CloudflareFailure {
  readonly status: number;
  readonly errors: readonly CloudflareErrorItem[];
  /** Seconds for the `Retry-After` header (429 only); the SDK waits that long before retrying. */
  readonly retryAfter?: number;
  /** Methods for the `Allow` header (405 only). */
  readonly allow?: readonly string[];
}

/**
 * The Cloudflare name of every core code, typed over the whole union: a new code does not compile
 * until it has a row here. Codes with no name of their own answer as their kind's generic error
 * (`not_found`, `conflict`, `invalid_request`, …); a refusal for another tenant is a missing account.
 */
const CODE_NAMES = {
  tenant_not_found: 'account_not_found',
  store_not_found: 'store_not_found',
  secret_not_found: 'secret_not_found',
  secret_not_yet_valid: 'secret_not_found',
  secret_value_not_found: 'not_found',
  api_key_not_found: 'not_found',
  service_not_found: 'not_found',
  webhook_not_found: 'not_found',
  route_not_found: 'route_not_found',
  method_not_allowed: 'method_not_allowed',
  store_name_taken: 'store_name_taken',
  store_not_empty: 'store_not_empty',
  secret_name_taken: 'secret_name_taken',
  api_key_exists: 'conflict',
  service_exists: 'conflict',
  precondition_failed: 'conflict',
  invalid_tenant_id: 'invalid_request',
  invalid_store_name: 'invalid_store_name',
  invalid_secret_name: 'invalid_secret_name',
  invalid_api_key_name: 'invalid_request',
  invalid_service_name: 'invalid_request',
  secret_value_too_long: 'secret_value_too_long',
  value_required: 'invalid_request',
  invalid_validity_window: 'invalid_request',
  invalid_instant: 'invalid_request',
  invalid_limit: 'invalid_request',
  invalid_cursor: 'invalid_request',
  too_many_names: 'invalid_request',
  too_many_secrets: 'invalid_request',
  unknown_permission: 'invalid_request',
  permissions_missing: 'invalid_request',
  invalid_precondition: 'invalid_request',
  name_mismatch: 'invalid_request',
  invalid_webhook: 'invalid_request',
  token_not_renewable: 'invalid_request',
  token_not_revocable: 'invalid_request',
  unauthenticated: 'invalid_credentials',
  missing_credentials: 'authentication_required',
  invalid_credentials: 'invalid_credentials',
  login_refused: 'invalid_credentials',
  other_tenant: 'account_not_found',
  missing_permission: 'missing_permission',
  permission_escalation: 'missing_permission',
  service_not_allowed: 'credential_not_allowed',
  credential_not_allowed: 'credential_not_allowed',
  operator_only: 'credential_not_allowed',
  secret_quota_exceeded: 'maximum_secrets_exceeded',
  maximum_stores_exceeded: 'maximum_stores_exceeded',
  too_many_failed_authentications: 'rate_limited',
  key_rate_limited: 'rate_limited',
  too_many_watchers: 'rate_limited',
  unavailable: 'service_unavailable',
  write_conflict: 'service_unavailable',
  database_busy: 'service_unavailable',
  database_unavailable: 'service_unavailable',
  audit_unavailable: 'service_unavailable',
  identity_provider_unavailable: 'service_unavailable',
} as const satisfies Record<CofferErrorCode, CloudflareErrorName>;

/**
 * Codes answered in the catalogue's words, not the core's: another tenant's refusal would tell that
 * the account exists, and unmatched routes are said as Cloudflare says them (7003, 7001).
 */
const CATALOGUE_TEXT: ReadonlySet<CofferErrorCode> = new Set<CofferErrorCode>([
  'other_tenant',
  'route_not_found',
  'method_not_allowed',
]);

/** Only for a code outside the union, which takes a cast to make: its kind's generic error. */
const KIND_FALLBACK: Readonly<Record<ErrorKind, CloudflareErrorName>> = {
  invalid: 'invalid_request',
  unauthenticated: 'invalid_credentials',
  forbidden: 'missing_permission',
  not_found: 'not_found',
  conflict: 'conflict',
  quota_exceeded: 'maximum_secrets_exceeded',
  rate_limited: 'rate_limited',
  unavailable: 'service_unavailable',
};

function cloudflareNameOf(error: CofferError): CloudflareErrorName {
  const name: CloudflareErrorName | undefined = CODE_NAMES[error.code];
  return name ?? KIND_FALLBACK[error.kind];
}

function item(name: CloudflareErrorName, message?: string, pointer?: string): CloudflareErrorItem {
  const e = CLOUDFLARE_ERRORS[name];
  const text = message === undefined || message === '' ? e.message : message;
  return pointer === undefined
    ? { code: e.code, message: text }
    : { code: e.code, message: text, source: { pointer } };
}

export function cloudflareError(name: CloudflareErrorName, message?: string): CloudflareFailure {
  return { status: CLOUDFLARE_ERRORS[name].status, errors: [item(name, message)] };
}

const single = cloudflareError;

/** `[0].value` / `0.scopes` → `/0/value` / `/0/scopes`; the whole body → `` (RFC 6901 root). */
export function jsonPointerOf(field: string): string {
  const parts = field
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '');
  return parts.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function domainFailure(error: CofferError): CloudflareFailure {
  const name = cloudflareNameOf(error);
  if (CATALOGUE_TEXT.has(error.code)) {
    const failure = single(name);
    return error instanceof MethodNotAllowedError ? { ...failure, allow: error.allow } : failure;
  }
  if (error instanceof InvalidError) {
    const fields = Object.entries(error.fields);
    if (fields.length > 0) {
      return {
        status: CLOUDFLARE_ERRORS[name].status,
        errors: fields.map(([f, messages]) => item(name, messages.join(' '), jsonPointerOf(f))),
      };
    }
  }
  return single(name, error.message);
}

/**
 * The one mapping from any request failure to the Cloudflare failure envelope's status and errors.
 * `part` is where a schema failure was found: only body fields get a JSON pointer.
 */
export function toCloudflareFailure(failure: RequestFailure, part = 'body'): CloudflareFailure {
  switch (failure.type) {
    case 'domain': {
      const retryAfter = retryAfterOf(failure);
      const mapped = domainFailure(failure.error);
      return retryAfter === undefined ? mapped : { ...mapped, retryAfter };
    }
    case 'validation': {
      const fields = Object.entries(failure.fields);
      if (part !== 'body' || fields.length === 0) {
        const detail = fields.map(([f, messages]) => `${f}: ${messages.join(' ')}`).join('; ');
        return single(
          'validation_error',
          detail === '' ? undefined : `The request failed validation: ${detail}`,
        );
      }
      return {
        status: 400,
        errors: fields.map(([f, messages]) =>
          item('validation_error', messages.join(' '), f === 'body' ? '' : jsonPointerOf(f)),
        ),
      };
    }
    case 'malformed_body':
      return single('malformed_body');
    case 'unsupported_media_type':
      return single('unsupported_media_type');
    case 'body_too_large':
      return single('request_too_large');
    case 'client':
      // Fastify's own refusals (bad URL, prototype poisoning…) are all malformed requests to a client.
      return single('invalid_request');
    case 'internal':
      return single('internal_error');
  }
}

export const JSON_CONTENT_TYPE = 'application/json';

export function sendCloudflareFailure(reply: FastifyReply, failure: CloudflareFailure): FastifyReply {
  // The SDK retries a 409 unless told not to, and every 409 here is deterministic.
  if (failure.status === 409) reply.header('x-should-retry', 'false');
  if (failure.status === 401) reply.header('www-authenticate', 'Bearer');
  if (failure.retryAfter !== undefined) reply.header('retry-after', String(failure.retryAfter));
  if (failure.allow !== undefined) reply.header('allow', failure.allow.join(', '));
  return reply
    .code(failure.status)
    .header('content-type', JSON_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send(cloudflareFailureBody(failure));
}

/** The v4 failure envelope (also written raw, for requests Node's parser refused). */
export function cloudflareFailureBody(failure: CloudflareFailure): string {
  return JSON.stringify({ success: false, errors: failure.errors, messages: [], result: null });
}

export function cloudflareErrorHandler(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const context = (error as { validationContext?: unknown } | null)?.validationContext;
  const part = typeof context === 'string' ? context : 'body';
  return sendCloudflareFailure(reply, toCloudflareFailure(classifyRequestError(error, request.log), part));
}
