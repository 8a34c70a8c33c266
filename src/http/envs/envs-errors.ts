import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { type CofferError, type CofferErrorCode, type ErrorKind } from '../../core/errors.js';
import { MethodNotAllowedError } from '../route-methods.js';
import { classifyRequestError, type RequestFailure, retryAfterOf } from '../request-errors.js';
import { SECRET_NAME_MESSAGE } from './envs-schemas.js';

/**
 * Every code an envs error can carry, with its status. Closed: the mapping below only ever yields
 * these, and docs/envs.md lists exactly them (test/envs/envs-error-codes.test.ts checks both ways).
 * `4xx`: Fastify's own rare client errors keep their status.
 */
export const ENVS_ERRORS = {
  invalid_tenant: { status: 400, meaning: 'The organisation `o` is not a valid tenant id.' },
  invalid_project: { status: 400, meaning: 'The project slug `p` breaks the project rule.' },
  invalid_environment: { status: 400, meaning: 'The environment name breaks the environment rule.' },
  invalid_secret_name: { status: 400, meaning: 'The secret name (path or body) breaks the name rule.' },
  invalid_body: {
    status: 400,
    meaning: 'The body does not match the schema (the field is named in `error`).',
  },
  name_mismatch: { status: 400, meaning: 'The body `name` of an update differs from the path name.' },
  value_too_large: { status: 400, meaning: 'The value is over 65,536 bytes in UTF-8.' },
  malformed_body: { status: 400, meaning: 'The body is not valid JSON.' },
  bad_request: { status: 400, meaning: 'The request is malformed in some other way.' },
  missing_credentials: { status: 401, meaning: 'No `Authorization: Bearer <token>` header.' },
  invalid_credentials: { status: 401, meaning: 'The token is unknown, disabled or deleted.' },
  other_tenant: { status: 403, meaning: 'The token belongs to another tenant than `o`.' },
  missing_permission: { status: 403, meaning: 'The token lacks the permission the operation needs.' },
  service_not_allowed: {
    status: 403,
    meaning: 'A platform service credential was used; envs takes API keys.',
  },
  quota_exceeded: { status: 403, meaning: "The tenant's secret quota or store limit would be exceeded." },
  secret_not_found: { status: 404, meaning: 'No secret of that name in this environment.' },
  route_not_found: { status: 404, meaning: 'No such endpoint under `/{o}/{p}/envs/`.' },
  method_not_allowed: {
    status: 405,
    meaning: 'The path exists, but not with that method; `Allow` lists the methods it takes.',
  },
  secret_exists: { status: 409, meaning: 'A secret of that name is already declared here.' },
  conflict: { status: 409, meaning: 'The request conflicts with the current state.' },
  body_too_large: { status: 413, meaning: 'The body is over the size limit.' },
  unsupported_media_type: { status: 415, meaning: 'The body is not `application/json`.' },
  rate_limited: {
    status: 429,
    meaning:
      'Too many failed authentications from this address, or the token is over its request rate; see `Retry-After`.',
  },
  request_refused: {
    status: '4xx',
    meaning: 'Another client error raised by the HTTP server; its status is kept.',
  },
  internal_error: { status: 500, meaning: 'An unexpected failure; details are only in the server log.' },
  unavailable: { status: 503, meaning: 'The database is busy or unreachable; retry.' },
} as const satisfies Record<string, { status: number | '4xx'; meaning: string }>;

export type EnvsErrorCode = keyof typeof ENVS_ERRORS;

/** The wire shape of every envs error. */
export const EnvsErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'What went wrong, for people.' }),
    code: Type.String({ description: 'Stable machine-readable reason; see docs/envs.md.' }),
  },
  { $id: 'EnvsError', additionalProperties: false },
);

export interface EnvsFailure {
  readonly status: number;
  readonly code: EnvsErrorCode;
  readonly error: string;
  /** Seconds for the `Retry-After` header (429 only). */
  readonly retryAfter?: number;
  /** Methods for the `Allow` header (405 only). */
  readonly allow?: readonly string[];
}

/** Codes whose status is fixed. */
type FixedStatusCode = Exclude<EnvsErrorCode, 'request_refused'>;

function failure(code: FixedStatusCode, error: string): EnvsFailure {
  return { status: ENVS_ERRORS[code].status, code, error };
}

/**
 * A missing store, key or value is a missing secret here, in fixed words: the only resource envs
 * addresses is a secret, and the core's message could name another.
 */
const NO_SUCH_SECRET = { code: 'secret_not_found', error: 'The secret does not exist.' } as const;

/** An envs code (with the core's message), or a fixed answer in envs' own words. */
type EnvsAnswer = FixedStatusCode | typeof NO_SUCH_SECRET;

/**
 * The envs answer to every core code, typed over the whole union: a new code does not compile until
 * it has a row here. Codes with no envs code of their own answer as their kind's generic one.
 */
const CODE_ANSWERS = {
  tenant_not_found: NO_SUCH_SECRET,
  store_not_found: NO_SUCH_SECRET,
  secret_not_found: NO_SUCH_SECRET,
  // Said (with when) only to callers who may know the secret exists; the core decides that.
  secret_not_yet_valid: 'secret_not_found',
  secret_value_not_found: NO_SUCH_SECRET,
  api_key_not_found: NO_SUCH_SECRET,
  service_not_found: NO_SUCH_SECRET,
  webhook_not_found: NO_SUCH_SECRET,
  route_not_found: 'route_not_found',
  method_not_allowed: 'method_not_allowed',
  store_name_taken: 'conflict',
  store_not_empty: 'conflict',
  secret_name_taken: 'secret_exists',
  api_key_exists: 'conflict',
  service_exists: 'conflict',
  precondition_failed: 'conflict',
  invalid_tenant_id: 'invalid_tenant',
  invalid_store_name: 'invalid_body',
  invalid_secret_name: 'invalid_secret_name',
  invalid_api_key_name: 'invalid_body',
  invalid_service_name: 'invalid_body',
  secret_value_too_long: 'value_too_large',
  value_required: 'invalid_body',
  invalid_validity_window: 'invalid_body',
  invalid_instant: 'invalid_body',
  invalid_limit: 'invalid_body',
  invalid_cursor: 'invalid_body',
  too_many_names: 'invalid_body',
  too_many_secrets: 'invalid_body',
  unknown_permission: 'invalid_body',
  permissions_missing: 'invalid_body',
  invalid_precondition: 'invalid_body',
  name_mismatch: 'name_mismatch',
  invalid_webhook: 'invalid_body',
  token_not_renewable: 'invalid_body',
  token_not_revocable: 'invalid_body',
  unauthenticated: 'invalid_credentials',
  missing_credentials: 'missing_credentials',
  invalid_credentials: 'invalid_credentials',
  login_refused: 'invalid_credentials',
  other_tenant: 'other_tenant',
  missing_permission: 'missing_permission',
  permission_escalation: 'missing_permission',
  service_not_allowed: 'service_not_allowed',
  credential_not_allowed: 'service_not_allowed',
  operator_only: 'service_not_allowed',
  secret_quota_exceeded: 'quota_exceeded',
  maximum_stores_exceeded: 'quota_exceeded',
  too_many_failed_authentications: 'rate_limited',
  key_rate_limited: 'rate_limited',
  too_many_watchers: 'rate_limited',
  unavailable: 'unavailable',
  write_conflict: 'unavailable',
  database_busy: 'unavailable',
  database_unavailable: 'unavailable',
  audit_unavailable: 'unavailable',
  identity_provider_unavailable: 'unavailable',
} as const satisfies Record<CofferErrorCode, EnvsAnswer>;

/** Only for a code outside the union, which takes a cast to make: its kind's generic answer. */
const KIND_FALLBACK: Readonly<Record<ErrorKind, EnvsAnswer>> = {
  invalid: 'invalid_body',
  unauthenticated: 'invalid_credentials',
  forbidden: 'missing_permission',
  not_found: NO_SUCH_SECRET,
  conflict: 'conflict',
  quota_exceeded: 'quota_exceeded',
  rate_limited: 'rate_limited',
  unavailable: 'unavailable',
};

function fromDomain(e: CofferError): EnvsFailure {
  const mapped: EnvsAnswer | undefined = CODE_ANSWERS[e.code];
  const answer = mapped ?? KIND_FALLBACK[e.kind];
  const f = typeof answer === 'string' ? failure(answer, e.message) : failure(answer.code, answer.error);
  return e instanceof MethodNotAllowedError ? { ...f, allow: e.allow } : f;
}

const PARAM_CODES: ReadonlyArray<readonly [string, FixedStatusCode]> = [
  ['o', 'invalid_tenant'],
  ['p', 'invalid_project'],
  ['envName', 'invalid_environment'],
];

function fromValidation(fields: Record<string, string[]>): EnvsFailure {
  const message = Object.entries(fields)
    .map(([field, messages]) => `${field}: ${messages.join(' ')}`)
    .join('; ');
  for (const [field, code] of PARAM_CODES) {
    if (fields[field] !== undefined) return failure(code, message);
  }
  // The name rule's own message tells a bad name from a missing one (which is a bad body).
  if (fields.name?.includes(SECRET_NAME_MESSAGE)) return failure('invalid_secret_name', message);
  return failure('invalid_body', message);
}

/** The one mapping from any request failure to an envs `{error, code}`. */
export function toEnvsFailure(f: RequestFailure): EnvsFailure {
  switch (f.type) {
    case 'domain': {
      const retryAfter = retryAfterOf(f);
      const mapped = fromDomain(f.error);
      return retryAfter === undefined ? mapped : { ...mapped, retryAfter };
    }
    case 'validation':
      return fromValidation(f.fields);
    case 'malformed_body':
      return failure('malformed_body', f.detail);
    case 'unsupported_media_type':
      return failure(
        'unsupported_media_type',
        'The request body must be JSON (Content-Type: application/json).',
      );
    case 'body_too_large':
      return failure('body_too_large', 'The request body is too large.');
    case 'client':
      return f.status === 400
        ? failure('bad_request', f.detail)
        : { status: f.status, code: 'request_refused', error: f.detail };
    case 'internal':
      return failure('internal_error', 'An unexpected error occurred.');
  }
}

export function sendEnvsError(reply: FastifyReply, f: EnvsFailure): FastifyReply {
  if (f.status === 401) reply.header('www-authenticate', 'Bearer');
  if (f.retryAfter !== undefined) reply.header('retry-after', String(f.retryAfter));
  if (f.allow !== undefined) reply.header('allow', f.allow.join(', '));
  return reply
    .code(f.status)
    .header('content-type', 'application/json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(envsFailureBody(f));
}

/** `{error, code}` (also written raw, for requests Node's parser refused). */
export function envsFailureBody(f: EnvsFailure): string {
  return JSON.stringify({ error: f.error, code: f.code });
}

export function envsErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendEnvsError(reply, toEnvsFailure(classifyRequestError(error, request.log)));
}
