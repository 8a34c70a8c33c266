import type { Socket } from 'node:net';
import type {
  ConnectionError,
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import type { FacadeErrors, FacadeRouting } from './facade.js';
import { PROBLEM_ERRORS } from './problem-details.js';
import { isReplaying, replayRefusedMethod } from './refused-methods.js';

/**
 * Errors raised before any facade's plugin sees the request: a URL whose percent-encoding does not
 * decode (Fastify's FST_ERR_BAD_URL), and requests Node's HTTP parser refuses outright (bytes that
 * are not allowed in a request line, oversized headers). Fastify would answer these in its own
 * shape, quoting the URL and its internal error code; here they go to the facade that owns the
 * path (`FacadeRouting.ownerOf`), rendered by that facade's one mapper, or to the server's own
 * ProblemDetails outside every facade. Nothing is audited: no facade authenticated the request.
 */
function errorsOf(routing: FacadeRouting, url: string): FacadeErrors {
  return routing.ownerOf(url)?.errors ?? PROBLEM_ERRORS;
}

/** Fastify's `frameworkErrors`, answering in the shape of the facade that owns the path. */
export function frameworkErrorHandler(
  routing: FacadeRouting,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    // Refused before onRequest: the shared headers of buildApp are set here too.
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    errorsOf(routing, request.url).handler(error, request, reply);
  };
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/**
 * Node's `clientError`: no request object exists, so the path is read from the raw request line.
 * A method the parser refuses but the owning facade serves (Vault's LIST) is replayed through `app`
 * instead (src/http/refused-methods.ts); `app` is read when an error comes, once the app is built.
 */
export function clientErrorHandler(
  log: FastifyBaseLogger,
  routing: FacadeRouting,
  app: () => FastifyInstance | null = () => null,
): (error: ConnectionError, socket: Socket) => void {
  return (error, socket) => {
    // A replayed request owns its socket: the parser's later errors on it (the bytes that follow,
    // the client's end) are not answered again.
    if (error.code === 'ECONNRESET' || socket.destroyed || isReplaying(socket)) return;
    // Node hands over a Buffer (typed as its JSON form): read it as bytes either way.
    const packet: unknown = error.rawPacket;
    const raw = Buffer.isBuffer(packet) ? packet : Buffer.from(error.rawPacket?.data ?? []);
    if (error.code === 'HPE_INVALID_METHOD' && replayRefusedMethod(app(), routing, log, raw, socket)) return;
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const path = raw.toString('latin1').split('\r\n', 1)[0]?.split(' ')[1] ?? '';
    const detail = status === 400 ? 'The request is malformed.' : 'The request was refused.';
    const { body, contentType } = errorsOf(routing, path).raw({
      type: 'client',
      status,
      detail,
      ...(typeof error.code === 'string' ? { parserCode: error.code } : {}),
    });
    log.debug({ code: error.code, status }, 'refused a request the HTTP parser could not read');
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${contentType}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
