import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidError } from '../../core/errors.js';
import {
  type Problem,
  problem,
  type ProblemStatusTable,
  sendProblem,
  NEOSTORE_STATUS,
  toProblem,
} from '../problem-details.js';
import { classifyRequestError, type RequestFailure } from '../request-errors.js';

/**
 * The native API's status for every core code: Neostore's, except that a failed precondition is 412
 * and another tenant (`other_tenant`) is 404, answered as a tenant that does not exist.
 */
export const V1_STATUS = {
  ...NEOSTORE_STATUS,
  precondition_failed: 412,
  other_tenant: 404,
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
