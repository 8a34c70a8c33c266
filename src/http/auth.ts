import type { FastifyRequest } from 'fastify';
import type { Actor } from '../core/actor.js';
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
