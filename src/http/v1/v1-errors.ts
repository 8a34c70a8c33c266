import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidError } from '../../core/errors.js';
import {
  type Problem,
  problem,
  type ProblemStatusTable,
  sendProblem,
  toProblem,
} from '../problem-details.js';
import { classifyRequestError, type RequestFailure } from '../request-errors.js';

/**
 * The native API's status for every core code: Neostore's, except that a failed precondition is 412
 * and another tenant (`other_tenant`) is 404, answered as a tenant that does not exist.
 */
export const V1_STATUS = {
  tenant_not_found: 404,
  store_not_found: 404,
  secret_not_found: 404,
  secret_not_yet_valid: 404,
  secret_value_not_found: 404,
  api_key_not_found: 404,
  service_not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  store_name_taken: 409,
  store_not_empty: 409,
  secret_name_taken: 409,
  api_key_exists: 409,
  service_exists: 409,
  precondition_failed: 412,
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
  unauthenticated: 401,
  missing_credentials: 401,
  invalid_credentials: 401,
  other_tenant: 404,
  missing_permission: 403,
  permission_escalation: 403,
  service_not_allowed: 403,
  credential_not_allowed: 403,
  operator_only: 403,
  secret_quota_exceeded: 403,
  maximum_stores_exceeded: 403,
  too_many_failed_authentications: 429,
  key_rate_limited: 429,
  unavailable: 503,
  write_conflict: 503,
  database_busy: 503,
  database_unavailable: 503,
  audit_unavailable: 503,
  identity_provider_unavailable: 503,
} as const satisfies ProblemStatusTable;

/**
 * The native API's ProblemDetails: `V1_STATUS` over Neostore's shape; an invalid request always
 * names its code (a schema failure `validation_failed`), and a non-JSON body is 415.
 */
export function toV1Problem(failure: RequestFailure): Problem {
  if (failure.type === 'domain') {
    const e = failure.error;
    if (e.code === 'other_tenant') {
      // In /v1's words, not the core's: those would confirm that the tenant exists.
      return problem(V1_STATUS.other_tenant, 'The tenant does not exist for this API key.', {
        code: 'tenant_not_found',
      });
    }
    if (e instanceof InvalidError) return withCode(toProblem(failure, V1_STATUS), e.code);
    return toProblem(failure, V1_STATUS);
  }
  if (failure.type === 'validation') return withCode(toProblem(failure), 'validation_failed');
  if (failure.type === 'unsupported_media_type') {
    return problem(415, 'The request body must be JSON (Content-Type: application/json).', {
      code: 'unsupported_media_type',
    });
  }
  return toProblem(failure);
}

function withCode(p: Problem, code: string): Problem {
  return { status: p.status, body: { ...p.body, code } };
}

export function v1ErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(request, reply, toV1Problem(classifyRequestError(error, request.log)));
}
