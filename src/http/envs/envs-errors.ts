import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { type CofferError, ForbiddenError } from '../../core/errors.js';
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

function fromDomain(e: CofferError): EnvsFailure {
  switch (e.kind) {
    case 'invalid':
      if (e.code === 'invalid_secret_name') return failure('invalid_secret_name', e.message);
      if (e.code === 'invalid_tenant_id') return failure('invalid_tenant', e.message);
      if (e.code === 'secret_value_too_long') return failure('value_too_large', e.message);
      if (e.code === 'name_mismatch') return failure('name_mismatch', e.message);
      return failure('invalid_body', e.message);
    case 'unauthenticated':
      return failure(
        e.code === 'missing_credentials' ? 'missing_credentials' : 'invalid_credentials',
        e.message,
      );
    case 'forbidden':
      if (e instanceof ForbiddenError && e.reason === 'other_tenant')
        return failure('other_tenant', e.message);
      if (e instanceof ForbiddenError && e.reason === 'not_service')
        return failure('service_not_allowed', e.message);
      return failure('missing_permission', e.message);
    case 'not_found':
      if (e instanceof MethodNotAllowedError) {
        return { ...failure('method_not_allowed', e.message), allow: e.allow };
      }
      if (e.code === 'route_not_found') return failure('route_not_found', e.message);
      // The only resource addressed is a secret: a missing store is a missing secret too. A secret
      // not valid yet says so (the core only tells callers who may know it exists).
      return failure(
        'secret_not_found',
        e.code === 'secret_not_yet_valid' ? e.message : 'The secret does not exist.',
      );
    case 'conflict':
      return e.code === 'secret_name_taken'
        ? failure('secret_exists', e.message)
        : failure('conflict', e.message);
    case 'quota_exceeded':
      return failure('quota_exceeded', e.message);
    case 'rate_limited':
      return failure('rate_limited', e.message);
    case 'unavailable':
      return failure('unavailable', e.message);
  }
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
