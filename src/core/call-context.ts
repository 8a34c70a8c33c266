import { randomUUID } from 'node:crypto';
import type { Actor } from './actor.js';

/**
 * Who calls, and from where: what an audit event records besides the operation. Facades build it
 * from the request (`request.id`, `request.ip`); never from a header, so nothing a client sends in
 * one can reach the audit trail.
 */
export interface CallContext {
  readonly actor: Actor;
  readonly requestId: string;
  readonly clientAddress: string;
}

/** Services take either: a bare actor (the CLI, tests) gets a fresh request id and address `local`. */
export type Caller = Actor | CallContext;

export const LOCAL_ADDRESS = 'local';

export function callContextOf(caller: Caller): CallContext {
  if ('actor' in caller) return caller;
  return { actor: caller, requestId: randomUUID(), clientAddress: LOCAL_ADDRESS };
}
