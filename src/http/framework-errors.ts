import type { Socket } from 'node:net';
import type { ConnectionError, FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  cloudflareFailureBody,
  JSON_CONTENT_TYPE,
  sendCloudflareFailure,
  toCloudflareFailure,
} from './cloudflare/cloudflare-errors.js';
import { envsFailureBody, sendEnvsError, toEnvsFailure } from './envs/envs-errors.js';
import { PROBLEM_CONTENT_TYPE, problemBody, sendProblem, toProblem } from './problem-details.js';
import { classifyRequestError, type RequestFailure } from './request-errors.js';

/**
 * Errors raised before any facade's plugin sees the request: a URL whose percent-encoding does not
 * decode (Fastify's FST_ERR_BAD_URL), and requests Node's HTTP parser refuses outright (bytes that
 * are not allowed in a request line, oversized headers). Fastify would answer these in its own
 * shape, quoting the URL and its internal error code; here they go to the facade that owns the
 * path, rendered by that facade's one mapper.
 */
export type FacadeName = 'problem' | 'cloudflare' | 'envs';

function under(url: string, prefix: string): boolean {
  return url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`);
}

/** `…/{o}/{p}/envs/…` (under any COFFER_ENVS_PREFIX): the envs route shape, wherever it is mounted. */
const ENVS_PATH = /^(?:\/[^/?#]+)*\/[^/?#]+\/[^/?#]+\/envs(?:[/?#]|$)/;

/**
 * The shape a URL's errors take, by where it is mounted: envs paths (which the router prefers even
 * under `/api` or `/client/v4`, as tenant ids), then Cloudflare's prefix; everything else —
 * Neostore, `/v1` and paths outside every facade — is ProblemDetails.
 */
export function facadeOf(url: string): FacadeName {
  if (ENVS_PATH.test(url)) return 'envs';
  if (under(url, '/client/v4')) return 'cloudflare';
  return 'problem';
}

export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const failure = classifyRequestError(error, request.log);
  reply.header('cache-control', 'no-store');
  switch (facadeOf(request.url)) {
    case 'problem':
      sendProblem(request, reply, toProblem(failure));
      return;
    case 'cloudflare':
      sendCloudflareFailure(reply, toCloudflareFailure(failure));
      return;
    case 'envs':
      sendEnvsError(reply, toEnvsFailure(failure));
      return;
  }
}

function rawFailure(
  facade: FacadeName,
  failure: RequestFailure,
): { status: number; type: string; body: string } {
  switch (facade) {
    case 'problem': {
      const p = toProblem(failure);
      return { status: p.status, type: PROBLEM_CONTENT_TYPE, body: problemBody(p, undefined) };
    }
    case 'cloudflare': {
      const f = toCloudflareFailure(failure);
      return { status: f.status, type: JSON_CONTENT_TYPE, body: cloudflareFailureBody(f) };
    }
    case 'envs': {
      const f = toEnvsFailure(failure);
      return { status: f.status, type: 'application/json; charset=utf-8', body: envsFailureBody(f) };
    }
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Node's `clientError`: no request object exists, so the path is read from the raw request line. */
export function clientErrorHandler(log: FastifyBaseLogger): (error: ConnectionError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    // Node hands over a Buffer (typed as its JSON form): read it as bytes either way.
    const packet: unknown = error.rawPacket;
    const raw = Buffer.isBuffer(packet) ? packet : Buffer.from(error.rawPacket?.data ?? []);
    const path = raw.toString('latin1').split('\r\n', 1)[0]?.split(' ')[1] ?? '';
    const detail = status === 400 ? 'The request is malformed.' : 'The request was refused.';
    const { body, type } = rawFailure(facadeOf(path), { type: 'client', status, detail });
    log.debug({ code: error.code, status }, 'refused a request the HTTP parser could not read');
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${type}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
