import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, Audience } from '../core/actor.js';
import type { AuthService } from '../core/auth-service.js';
import type { CallContext } from '../core/call-context.js';
import { UnauthenticatedError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a facade's authentication hook; null until then. */
    actor: Actor | null;
  }
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/**
 * Why an `Authorization` header that was sent yields no token: a bare token (the scheme left out,
 * the most common slip) or another scheme. Undefined when there is no such header or it holds a
 * bearer token. The header's content is never quoted back: its first word may be the token itself.
 */
export function authorizationSchemeProblem(
  header: string | undefined,
  alternatives: string,
): string | undefined {
  if (header === undefined || header.trim() === '' || bearerToken(header) !== undefined) return undefined;
  const words = header.trim().split(/[ \t]+/);
  if (words.length === 1) {
    return /^Bearer$/i.test(words[0] ?? '')
      ? `The Authorization header has no token after Bearer: send ${alternatives}.`
      : `The Authorization header is missing its scheme: send ${alternatives}.`;
  }
  return `The Authorization header must use the Bearer scheme: send ${alternatives}.`;
}

export function singleHeader(value: string | string[] | undefined): string | undefined {
  // A repeated credential header is ambiguous: refuse it rather than pick one.
  return typeof value === 'string' ? value : undefined;
}

export function actorOf(request: FastifyRequest): Actor {
  if (request.actor === null) throw new UnauthenticatedError();
  return request.actor;
}

/**
 * What the core records about the caller: the actor, Fastify's own request id (generated, never
 * taken from a header) and the peer address. Services take this instead of the bare actor.
 */
export function callerOf(request: FastifyRequest): CallContext {
  return { actor: actorOf(request), requestId: request.id, clientAddress: request.ip };
}

/** How one facade finds its credential, and whom its routes serve. */
export interface FacadeAuthentication {
  /** The token of a request in this facade's own headers; undefined when none is sent. */
  readonly token: (request: FastifyRequest) => string | undefined;
  /** Said when no credential is sent, in the facade's words. */
  readonly missing: string;
  /** What to send, named when an `Authorization` header lacks the Bearer scheme; default: Bearer only. */
  readonly send?: string;
  /** Whom the matched route serves; tenant APIs answer 'tenant' for every route. */
  readonly audience: (request: FastifyRequest) => Audience;
  /**
   * Routes that take no credential (Vault's `sys/health`, `sys/seal-status`, logins): the request
   * goes on with `actor` null, and any token it carries is ignored. Absent: every route needs one.
   */
  readonly anonymous?: (request: FastifyRequest) => boolean;
}

/**
 * The one authentication hook every facade installs (docs/architecture.md): each request, matched
 * or not (unknown routes are authenticated, then answered and audited), is authenticated through
 * the core with the client's address and the route's audience, so the failed-authentication limit
 * and the credential-kind rule cannot be left out by a facade.
 */
export function authenticateRequests(
  app: FastifyInstance,
  auth: AuthService,
  how: FacadeAuthentication,
): void {
  app.addHook('onRequest', async (request) => {
    if (how.anonymous?.(request) === true) return;
    const token = how.token(request);
    if (token === undefined) {
      // A token sent without its scheme is still a missing credential (same status and code), but
      // the message says what was wrong with what was sent.
      const scheme = authorizationSchemeProblem(
        singleHeader(request.headers.authorization),
        how.send ?? '`Authorization: Bearer <token>`',
      );
      throw new UnauthenticatedError('missing_credentials', scheme ?? how.missing);
    }
    request.actor = await auth.authenticate(token, {
      client: request.ip,
      audience: how.audience(request),
    });
  });
}

/** For facades that serve tenants only. */
export const TENANT_AUDIENCE = (): Audience => 'tenant';
