import type { FastifyReply, FastifyRequest } from 'fastify';
import { PLATFORM_CHAIN, type AuditTrail } from '../core/audit-trail.js';
import { isCofferError, NotFoundError, RateLimitedError } from '../core/errors.js';
import type { AuditOutcome } from '../core/model.js';
import { MethodNotAllowedError, methodsAllowedFor } from './route-methods.js';
import { validationIssuesOf } from './validation.js';

type ErrorHandler = (error: unknown, request: FastifyRequest, reply: FastifyReply) => unknown;

/** How a refusal that never reached the core is recorded: fixed codes only, never a message. */
function outcomeOf(error: unknown): { outcome: AuditOutcome; reason: string } {
  if (isCofferError(error)) {
    return { outcome: error.kind === 'unavailable' ? 'error' : 'denied', reason: error.code };
  }
  if (validationIssuesOf(error) !== null) return { outcome: 'denied', reason: 'invalid_request' };
  const { code, statusCode } = (error ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const reason =
      typeof code === 'string' && /^FST_ERR_[A-Z_]{1,60}$/.test(code)
        ? code.slice(8).toLowerCase()
        : 'client_error';
    return { outcome: 'denied', reason };
  }
  return { outcome: 'error', reason: 'internal' };
}

function isBlockedAddressRefusal(error: unknown): boolean {
  return error instanceof RateLimitedError && error.code === 'too_many_failed_authentications';
}

/**
 * Wraps a facade's error handler so that a request refused before it reached a core service (no or
 * a bad credential, a schema error, a facade's own credential rule) is recorded too. The core has
 * already recorded everything else. A tenant key's refusal joins its own tenant's chain; anything
 * unauthenticated or from a service joins the platform chain (docs/audit.md). The resource is the
 * route pattern, never the URL: that would carry whatever the caller typed. A refusal whose event
 * cannot be written keeps its own answer (nothing was changed or returned) and is logged instead.
 */
export function recordingRefusals(audit: AuditTrail, render: ErrorHandler): ErrorHandler {
  return async (error, request, reply) => {
    const record = audit.recordOf(error);
    if (record === 'lost') {
      request.log.error({ auditEvent: 'lost' }, 'the audit event of a refused request could not be written');
    } else if (isBlockedAddressRefusal(error)) {
      // The failures that got the address blocked were each recorded; recording every refusal of a
      // blocked address one by one would turn a guessing flood into a flood of database writes.
      // They are counted in coffer_auth_failures_total instead.
    } else if (record === null) {
      const actor = request.actor;
      const { outcome, reason } = outcomeOf(error);
      try {
        await audit.refusal(
          { actor, requestId: request.id, clientAddress: request.ip },
          {
            tenantId: actor?.kind === 'api_key' ? actor.tenantId : PLATFORM_CHAIN,
            action: 'request.refused',
            resource: `${request.method} ${request.routeOptions.url ?? '(no route)'}`,
          },
          outcome,
          reason,
        );
      } catch {
        request.log.error(
          { auditEvent: 'lost' },
          'the audit event of a refused request could not be written',
        );
      }
    }
    render(error, request, reply);
  };
}

/**
 * What a facade's not-found handler throws. Facades authenticate unknown routes like known ones, so
 * this reaches the refusal recorder with the caller's actor (a valid key probing for routes leaves
 * a trace in its tenant's chain), and then the facade's own error shape.
 */
export function routeNotFound(request: FastifyRequest): NotFoundError {
  const allow = methodsAllowedFor(request);
  if (allow === null) return new NotFoundError('route_not_found', 'No such endpoint.');
  return new MethodNotAllowedError(request.method, allow);
}
