import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { FacadeRouting } from './facade.js';
import { LINGER_MAX_BYTES, LINGER_MAX_MS } from './lingering-close.js';

/**
 * Requests Node's HTTP parser refuses for their method alone (Vault's LIST) but a facade serves as
 * a GET: the facade's `refusedMethods` says which GET (docs/adr/0014-vault-facade.md, "LIST").
 * llhttp has a closed method list, so such a request never becomes a request object; its bytes
 * reach `clientError` as `rawPacket`. When those bytes are exactly one complete, well-formed
 * request, it is replayed through the whole Fastify pipeline (`inject`: every hook, authentication,
 * rate limits, audit, metrics) as that GET, from the socket's real address, and the answer is
 * written back with `Connection: close`: the parser of that connection is in its error state and
 * cannot read another request. Anything else keeps the parser's refusal.
 */

/** A request read from the parser's raw bytes: one head, its body (if any), nothing after it. */
export interface RawRequest {
  readonly method: string;
  /** The request target as sent (origin form: path and query, not decoded). */
  readonly target: string;
  /** Each header by its lower-case name; a repeated header keeps every value, in order. */
  readonly headers: Readonly<Record<string, string | string[]>>;
}

/** RFC 9110 token characters (a method, a header name). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Origin-form target: a path from `/`, visible ASCII only (what llhttp accepts in strict mode). */
const REQUEST_LINE = /^([A-Z]+) (\/[\x21-\x7e]*) HTTP\/1\.[01]$/;
/** A field value: visible characters, spaces, tabs and obs-text; no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Most body bytes a replayed request may carry (and that are then dropped: a GET has no body). */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads `raw` as one complete HTTP/1.x request, or null when it is not exactly that: no full head
 * within Node's header limit, a malformed line, a folded or repeated-Content-Length header, any
 * Transfer-Encoding (a chunked body cannot be known complete from one packet), a body not entirely
 * present, bytes after the body (a pipelined request), or an HTTP/1.1 request without one Host.
 * Stricter than the parser it stands in for, never looser.
 */
export function readRawRequest(raw: Buffer): RawRequest | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0 || end + 4 > maxHeaderSize) return null;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const line = REQUEST_LINE.exec(lines[0] ?? '');
  if (line === null) return null;
  const [, method = '', target = ''] = line;
  const headers: Record<string, string | string[]> = {};
  for (const field of lines.slice(1)) {
    const colon = field.indexOf(':');
    if (colon <= 0) return null;
    const name = field.slice(0, colon);
    const value = field.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) return null;
    const key = name.toLowerCase();
    const seen = headers[key];
    headers[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  if (headers['transfer-encoding'] !== undefined) return null;
  const length = headers['content-length'];
  if (Array.isArray(length) || (length !== undefined && !/^[0-9]{1,6}$/.test(length))) return null;
  const bodyBytes = length === undefined ? 0 : Number(length);
  if (bodyBytes > MAX_BODY_BYTES || raw.length !== end + 4 + bodyBytes) return null;
  if (lines[0]?.endsWith('1.1') === true && typeof headers.host !== 'string') return null;
  return { method, target, headers };
}

/** Headers of the connection or the body, not of the request the GET is: never replayed. */
const NOT_REPLAYED = new Set(['connection', 'keep-alive', 'content-length', 'expect', 'upgrade', 'te']);
/** Headers of the injected answer that the answer written here sets itself. */
const NOT_ANSWERED = new Set(['connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/** Sockets whose request is being replayed: the parser's later errors on them are not answered again. */
const replaying = new WeakSet<Socket>();

/** Whether `socket` is answering a replayed request (its parser's further errors are to be ignored). */
export function isReplaying(socket: Socket): boolean {
  return replaying.has(socket);
}

/**
 * Ends a connection after its replayed answer: FIN after the answer, then discard what the client
 * still sends until it closes, LINGER_MAX_BYTES or LINGER_MAX_MS (as lingering-close.ts does for
 * early answers), so that unread bytes never reset the connection before the client read the answer.
 */
function endAfter(socket: Socket, answer: Buffer): void {
  let discarded = 0;
  const close = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, LINGER_MAX_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_MAX_BYTES) close();
  });
  // Closed once both sides are done: the answer flushed and the client's end read.
  let ended = socket.readableEnded;
  let flushed = false;
  const closeWhenDone = () => {
    if (ended && flushed) close();
  };
  socket.once('end', () => {
    ended = true;
    closeWhenDone();
  });
  socket.end(answer, () => {
    flushed = true;
    closeWhenDone();
  });
}

/**
 * Replays `raw` as the GET its facade means when it is one (see above); true when it took the
 * socket over (answered, or failed and destroyed), false when the caller should refuse as before.
 */
export function replayRefusedMethod(
  app: FastifyInstance | null,
  routing: FacadeRouting,
  log: FastifyBaseLogger,
  raw: Buffer,
  socket: Socket,
): boolean {
  const remoteAddress = socket.remoteAddress;
  if (app === null || remoteAddress === undefined || !socket.writable) return false;
  const request = readRawRequest(raw);
  if (request === null) return false;
  const asGet = routing.ownerOf(request.target)?.refusedMethods?.[request.method]?.(request.target);
  if (asGet === undefined || asGet === null) return false;
  const headers: Record<string, string | string[] | undefined> = { 'user-agent': undefined };
  for (const [name, value] of Object.entries(request.headers)) {
    if (!NOT_REPLAYED.has(name)) headers[name] = value;
  }
  replaying.add(socket);
  app
    .inject({ method: 'GET', url: asGet, headers, remoteAddress })
    .then((response) => {
      if (!socket.writable) return socket.destroy();
      const lines = [`HTTP/1.1 ${response.statusCode} ${STATUS_CODES[response.statusCode] ?? ''}`];
      for (const [name, value] of Object.entries(response.headers)) {
        if (value === undefined || NOT_ANSWERED.has(name.toLowerCase())) continue;
        for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
      }
      lines.push(`content-length: ${response.rawPayload.length}`, 'connection: close', '', '');
      endAfter(socket, Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), response.rawPayload]));
    })
    .catch((error: unknown) => {
      // inject fails only when the server itself does (closing): nothing sensible to answer.
      log.warn({ err: error }, 'a replayed request failed');
      socket.destroy();
    });
  return true;
}
