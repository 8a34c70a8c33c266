import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type CofferError,
  type CofferErrorCode,
  type ErrorKind,
  InvalidError,
  RateLimitedError,
  SecretNotYetValidError,
} from '../core/errors.js';
import { routeNotFound } from './audit-refusals.js';
import type { FacadeErrors } from './facade.js';
import { MethodNotAllowedError } from './route-methods.js';
import { classifyRequestError, type RequestFailure, retryAfterOf } from './request-errors.js';

/** The mapping to RFC 7807 bodies; their schema is src/http/problem-details-schema.ts. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

const STATUS: Record<number, { title: string; type: string }> = {
  400: { title: 'Bad Request', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1' },
  401: { title: 'Unauthorized', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.2' },
  403: { title: 'Forbidden', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.4' },
  404: { title: 'Not Found', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.5' },
  405: { title: 'Method Not Allowed', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.6' },
  409: { title: 'Conflict', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.10' },
  412: { title: 'Precondition Failed', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.13' },
  413: { title: 'Content Too Large', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.14' },
  415: { title: 'Unsupported Media Type', type: 'https://tools.ietf.org/html/rfc9110#section-15.5.16' },
  429: { title: 'Too Many Requests', type: 'https://tools.ietf.org/html/rfc6585#section-4' },
  500: {
    title: 'An error occurred while processing your request.',
    type: 'https://tools.ietf.org/html/rfc9110#section-15.6.1',
  },
  503: { title: 'Service Unavailable', type: 'https://tools.ietf.org/html/rfc9110#section-15.6.4' },
};

/**
 * A ProblemDetails facade's status for every core code (the code itself is sent as is, as `code`).
 * Typed over the whole union: a new code does not compile until the table answers it.
 */
export type ProblemStatusTable = Readonly<Record<CofferErrorCode, number>>;

/**
 * Neostore's answer to every core code: its kind's status (a quota is 403, as the ASP.NET service
 * answers it), and 405 for a method the path does not take. Nothing is renamed or hidden.
 */
export const NEOSTORE_STATUS = {
  tenant_not_found: 404,
  store_not_found: 404,
  secret_not_found: 404,
  secret_not_yet_valid: 404,
  secret_value_not_found: 404,
  api_key_not_found: 404,
  service_not_found: 404,
  webhook_not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  store_name_taken: 409,
  store_not_empty: 409,
  secret_name_taken: 409,
  api_key_exists: 409,
  service_exists: 409,
  precondition_failed: 409,
  invalid_tenant_id: 400,
  invalid_store_name: 400,
  invalid_secret_name: 400,
  invalid_api_key_name: 400,
  invalid_service_name: 400,
  secret_value_too_long: 400,
  value_required: 400,
  invalid_validity_window: 400,
  invalid_instant: 400,
  invalid_limit: 400,
  invalid_cursor: 400,
  too_many_names: 400,
  too_many_secrets: 400,
  unknown_permission: 400,
  permissions_missing: 400,
  invalid_precondition: 400,
  name_mismatch: 400,
  invalid_webhook: 400,
  token_not_renewable: 400,
  token_not_revocable: 400,
  unauthenticated: 401,
  missing_credentials: 401,
  invalid_credentials: 401,
  login_refused: 401,
  other_tenant: 403,
  missing_permission: 403,
  permission_escalation: 403,
  service_not_allowed: 403,
  credential_not_allowed: 403,
  operator_only: 403,
  secret_quota_exceeded: 403,
  maximum_stores_exceeded: 403,
  too_many_failed_authentications: 429,
  key_rate_limited: 429,
  too_many_watchers: 429,
  unavailable: 503,
  write_conflict: 503,
  database_busy: 503,
  database_unavailable: 503,
  audit_unavailable: 503,
  identity_provider_unavailable: 503,
} as const satisfies ProblemStatusTable;

/** Only for a code outside the union, which takes a cast to make: its kind's status. */
const KIND_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  quota_exceeded: 403,
  rate_limited: 429,
  unavailable: 503,
};

export interface Problem {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** Seconds for the `Retry-After` header (429 only). */
  readonly retryAfter?: number;
  /** Methods for the `Allow` header (405 only). */
  readonly allow?: readonly string[];
}

export function problem(
  status: number,
  detail: string | undefined,
  extra: Record<string, unknown> = {},
): Problem {
  const s = STATUS[status] ?? { title: 'Error', type: 'about:blank' };
  const body: Record<string, unknown> = { type: s.type, title: s.title, status };
  if (detail !== undefined) body.detail = detail;
  return { status, body: { ...body, ...extra } };
}

export function validationProblem(fields: Record<string, string[]>): Problem {
  return {
    status: 400,
    body: {
      type: STATUS[400]?.type,
      title: 'One or more validation errors occurred.',
      status: 400,
      errors: fields,
    },
  };
}

/** Machine-readable facts a domain error carries beyond its message (Coffer extensions). */
function extensionsOf(e: CofferError): Record<string, unknown> {
  if (e instanceof SecretNotYetValidError) return { validFrom: new Date(e.validFrom).toISOString() };
  if (e instanceof RateLimitedError && e.blockedUntil !== undefined) {
    return { blockedUntil: new Date(e.blockedUntil).toISOString() };
  }
  return {};
}

/**
 * The one mapping from any request failure to a ProblemDetails: Neostore's, or with another facade's
 * `statuses` (the native API's).
 */
export function toProblem(failure: RequestFailure, statuses: ProblemStatusTable = NEOSTORE_STATUS): Problem {
  switch (failure.type) {
    case 'domain': {
      const e = failure.error;
      if (e instanceof InvalidError && Object.keys(e.fields).length > 0) return validationProblem(e.fields);
      const status: number | undefined = statuses[e.code];
      const p = problem(status ?? KIND_STATUS[e.kind], e.message, { code: e.code, ...extensionsOf(e) });
      if (e instanceof MethodNotAllowedError) return { ...p, allow: e.allow };
      const retryAfter = retryAfterOf(failure);
      return retryAfter === undefined ? p : { ...p, retryAfter };
    }
    case 'validation':
      return validationProblem(failure.fields);
    case 'malformed_body':
      return problem(400, failure.detail, { code: 'malformed_body' });
    case 'unsupported_media_type':
      return problem(400, 'The request body must be JSON (Content-Type: application/json).', {
        code: 'unsupported_media_type',
      });
    case 'body_too_large':
      return problem(413, 'The request body is too large.', { code: 'body_too_large' });
    case 'client':
      return problem(failure.status, failure.detail);
    case 'internal':
      return problem(500, undefined);
  }
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, p: Problem): FastifyReply {
  if (p.status === 401) reply.header('www-authenticate', 'Bearer, ApiKey header="X-API-KEY"');
  if (p.retryAfter !== undefined) reply.header('retry-after', String(p.retryAfter));
  if (p.allow !== undefined) reply.header('allow', p.allow.join(', '));
  return reply
    .code(p.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send(problemBody(p, request.id));
}

/** The wire body of a problem (also written raw, for requests Node's parser refused). */
export function problemBody(p: Problem, traceId: string | undefined): string {
  return JSON.stringify(traceId === undefined ? p.body : { ...p.body, traceId });
}

/**
 * A request no route answers, outside every facade's prefix: 405 with `Allow` when the path exists
 * with other methods, else 404, as ProblemDetails. Nothing is authenticated there, so nothing is
 * audited either (the facades throw `routeNotFound` through their recording error handlers).
 */
export function sendRouteProblem(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(request, reply, toProblem({ type: 'domain', error: routeNotFound(request) }));
}

/**
 * The base mapping as a facade's renderer: Neostore's (its contract is ASP.NET Core's
 * ProblemDetails), and the server's own for paths outside every facade (src/http/framework-errors.ts).
 */
export const PROBLEM_ERRORS: FacadeErrors = {
  handler: (error, request, reply) =>
    sendProblem(request, reply, toProblem(classifyRequestError(error, request.log))),
  raw: (failure) => {
    const p = toProblem(failure);
    return { status: p.status, contentType: PROBLEM_CONTENT_TYPE, body: problemBody(p, undefined) };
  },
};
