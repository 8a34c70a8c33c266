import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, InvalidError } from '../../core/errors.js';
import { type Problem, problem, sendProblem, toProblem } from '../problem-details.js';
import { classifyRequestError, type RequestFailure } from '../request-errors.js';

/**
 * The native API's ProblemDetails: Neostore's mapping, except that another tenant's resources are
 * 404 (as if they did not exist), a failed precondition is 412 and a non-JSON body 415.
 */
export function toV1Problem(failure: RequestFailure): Problem {
  if (failure.type === 'domain') {
    const e = failure.error;
    if (e instanceof ForbiddenError && e.reason === 'other_tenant') {
      return problem(404, 'The tenant does not exist for this API key.', { code: 'tenant_not_found' });
    }
    if (e.code === 'precondition_failed') return problem(412, e.message, { code: e.code });
    if (e instanceof InvalidError) return withCode(toProblem(failure), e.code);
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
