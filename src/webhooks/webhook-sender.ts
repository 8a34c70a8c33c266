import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ipLiteralOf, isSpecialAddress } from '../core/webhooks/webhook-destination.js';

/**
 * The Standard Webhooks signature (spec/standard-webhooks.md): `v1,` + base64 HMAC-SHA256, keyed by
 * the secret's bytes (the base64 after `whsec_`), over `{id}.{timestamp}.{body}`.
 */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** How one attempt ended: the receiver's status, or why there was none (never the URL or a secret). */
export type SendOutcome =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly status: number | null; readonly error: string };

/** Most bytes of a receiver's answer read (and dropped) before the connection is closed. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** Every address a host name resolves to now. */
export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const resolveWithDns: HostResolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * The address a delivery connects to: the URL's IP literal, or its name resolved now. Unless private
 * destinations are allowed, a name any of whose addresses is special is refused, and the connection
 * is pinned to the address checked here (the request's `lookup` answers it), so a second resolution
 * (DNS rebinding) cannot send it elsewhere.
 */
async function destinationOf(
  url: URL,
  allowPrivate: boolean,
  resolve: HostResolver,
): Promise<{ address: string; family: 4 | 6 } | { refused: string }> {
  const literal = ipLiteralOf(url.hostname);
  let candidates: { address: string; family: number }[];
  if (literal !== null) {
    candidates = [{ address: literal, family: literal.includes(':') ? 6 : 4 }];
  } else {
    try {
      candidates = await resolve(url.hostname);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
      return { refused: `the host name does not resolve (${code})` };
    }
  }
  const first = candidates[0];
  if (first === undefined) return { refused: 'the host name has no address' };
  if (!allowPrivate && candidates.some((c) => isSpecialAddress(c.address))) {
    return {
      refused:
        'refused: the destination is a loopback, link-local, private or reserved address (COFFER_WEBHOOKS_ALLOW_PRIVATE)',
    };
  }
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** How long a connection to a receiver is kept open unused (under Node's server default of 5 s). */
const IDLE_CONNECTION_MS = 4_000;
/**
 * Most pools (scheme, host, port, checked address) kept; the least recently used one is dropped first
 * (its idle connections closed at once, those in use when their delivery ends).
 */
const MAX_RECEIVER_POOLS = 64;
/**
 * Most connections one pool opens at once, and keeps idle: as many, so that a pass's deliveries to one
 * receiver (up to the dispatcher's concurrency, 16 by default) find their connections again at the
 * next pass. With 4 kept idle, 10 webhooks to one receiver closed and opened 6 connections a pass.
 * Worst case: 64 pools × 16 idle connections, each closed after IDLE_CONNECTION_MS.
 */
const MAX_SOCKETS_PER_RECEIVER = 16;
const MAX_IDLE_SOCKETS_PER_RECEIVER = MAX_SOCKETS_PER_RECEIVER;

/**
 * Kept-alive connections to receivers (a new TCP and TLS handshake per delivery cost more than the
 * delivery itself). One pool per scheme, host name, port and *checked address*: a connection is
 * reused only by an attempt whose own check (`destinationOf`, run for every attempt) chose the same
 * address, so a name that now resolves elsewhere gets a new, checked connection and never an old one.
 * Bounded: at most MAX_RECEIVER_POOLS pools of MAX_SOCKETS_PER_RECEIVER connections; idle ones close
 * after IDLE_CONNECTION_MS (sooner when the receiver's `Keep-Alive: timeout=` says so).
 */
export class ReceiverConnections {
  readonly #pools = new Map<string, http.Agent>();

  poolFor(url: URL, address: string): http.Agent {
    const key = `${url.protocol}//${url.host}@${address}`;
    let pool = this.#pools.get(key);
    if (pool !== undefined) {
      // Most recently used last.
      this.#pools.delete(key);
      this.#pools.set(key, pool);
      return pool;
    }
    const options: http.AgentOptions = {
      keepAlive: true,
      timeout: IDLE_CONNECTION_MS,
      maxSockets: MAX_SOCKETS_PER_RECEIVER,
      maxFreeSockets: MAX_IDLE_SOCKETS_PER_RECEIVER,
      scheduling: 'lifo',
    };
    pool = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    this.#pools.set(key, pool);
    if (this.#pools.size > MAX_RECEIVER_POOLS) {
      const [oldestKey, oldest] = this.#pools.entries().next().value as [string, http.Agent];
      this.#pools.delete(oldestKey);
      closeIdle(oldest);
    }
    return pool;
  }

  /** Pools kept (each may hold no connection at the moment). */
  get size(): number {
    return this.#pools.size;
  }

  /** Closes every connection, idle or not (the dispatcher has stopped). */
  close(): void {
    for (const pool of this.#pools.values()) pool.destroy();
    this.#pools.clear();
  }
}

/** Closes a dropped pool's idle connections; those in use close when their delivery ends. */
function closeIdle(pool: http.Agent): void {
  for (const sockets of Object.values(pool.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
  pool.maxFreeSockets = 0;
}

/**
 * One POST of a signed JSON body, within `timeoutMs` from the DNS lookup to the end of the answer.
 * Redirects are not followed (a 3xx is a failure). With `connections`, a connection to the same
 * checked address is reused; a reset on a reused connection before any answer (the receiver closed
 * it while idle, or, rarely, dropped it after reading the request: then the receiver sees the same
 * `webhook-id` twice, which at least once allows) is retried once at once on a new connection.
 * Without it, no connection is reused. `resolve` is DNS unless a test gives its own.
 */
export async function sendWebhook(
  rawUrl: string,
  headers: Readonly<Record<string, string>>,
  body: string,
  options: {
    timeoutMs: number;
    allowPrivate: boolean;
    connections?: ReceiverConnections;
    resolve?: HostResolver;
  },
): Promise<SendOutcome> {
  const url = new URL(rawUrl);
  const signal = AbortSignal.timeout(options.timeoutMs);
  const destination = await destinationOf(url, options.allowPrivate, options.resolve ?? resolveWithDns);
  if ('refused' in destination) return { ok: false, status: null, error: destination.refused };
  const pool = options.connections?.poolFor(url, destination.address) ?? false;
  const first = await post(url, destination, headers, body, signal, options.timeoutMs, pool);
  if (!('staleConnection' in first)) return first;
  // A new connection (no pool): its reset, if any, is the receiver's failure.
  const again = await post(url, destination, headers, body, signal, options.timeoutMs, false);
  return 'staleConnection' in again ? again.outcome : again;
}

type PostResult = SendOutcome | { readonly staleConnection: true; readonly outcome: SendOutcome };

function post(
  url: URL,
  destination: { address: string; family: 4 | 6 },
  headers: Readonly<Record<string, string>>,
  body: string,
  signal: AbortSignal,
  timeoutMs: number,
  agent: http.Agent | false,
): Promise<PostResult> {
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all === true) {
      callback(null, [{ address: destination.address, family: destination.family }]);
    } else {
      callback(null, destination.address, destination.family);
    }
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    let answered = false;
    const settle = (outcome: PostResult) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinned,
        agent,
        signal,
      },
      (response) => {
        answered = true;
        const status = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) response.destroy();
        });
        const done = () =>
          settle(
            status >= 200 && status < 300
              ? { ok: true, status }
              : { ok: false, status, error: `the receiver answered ${status}` },
          );
        response.on('end', done);
        response.on('close', done);
        response.on('error', done);
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (signal.aborted) {
        settle({ ok: false, status: null, error: `no answer within ${timeoutMs} ms` });
        return;
      }
      const outcome: SendOutcome = {
        ok: false,
        status: null,
        error: `connection failed (${error.code ?? 'error'})`,
      };
      // A kept-alive connection the receiver closed while it was idle: nothing was answered.
      const stale =
        request.reusedSocket && !answered && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
      settle(stale ? { staleConnection: true, outcome } : outcome);
    });
    request.end(body);
  });
}
