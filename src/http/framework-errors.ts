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

/**
 * `{envsPrefix}/{o}/{p}/envs/…`: the envs route shape, with `o` and `p` possibly empty or
 * undecodable. Such a URL is envs' to answer even when it is malformed.
 */
function isEnvsPath(url: string, envsPrefix: string): boolean {
  if (envsPrefix !== '' && !url.startsWith(`${envsPrefix}/`)) return false;
  const segments = (url.slice(envsPrefix.length).split(/[?#]/, 1)[0] ?? '').split('/');
  return segments[3] === 'envs';
}

/**
 * The shape a URL's errors take, by what owns it: envs paths (which the router prefers even under
 * `/api` or `/client/v4`, whose first segments are then tenant ids), then Cloudflare's prefix;
 * everything else — Neostore, `/v1` and paths outside every facade — is ProblemDetails.
 */
export function facadeOf(url: string, envsPrefix = ''): FacadeName {
  if (isEnvsPath(url, envsPrefix)) return 'envs';
  if (under(url, '/client/v4')) return 'cloudflare';
  return 'problem';
}

/** Fastify's `frameworkErrors`, for an app whose envs facade is mounted at `envsPrefix`. */
export function frameworkErrorHandler(
  envsPrefix: string,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const failure = classifyRequestError(error, request.log);
    // Refused before onRequest: the shared headers of buildApp are set here too.
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    switch (facadeOf(request.url, envsPrefix)) {
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
  };
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
export function clientErrorHandler(
  log: FastifyBaseLogger,
  envsPrefix = '',
): (error: ConnectionError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    // Node hands over a Buffer (typed as its JSON form): read it as bytes either way.
    const packet: unknown = error.rawPacket;
    const raw = Buffer.isBuffer(packet) ? packet : Buffer.from(error.rawPacket?.data ?? []);
    const path = raw.toString('latin1').split('\r\n', 1)[0]?.split(' ')[1] ?? '';
    const detail = status === 400 ? 'The request is malformed.' : 'The request was refused.';
    const { body, type } = rawFailure(facadeOf(path, envsPrefix), { type: 'client', status, detail });
    log.debug({ code: error.code, status }, 'refused a request the HTTP parser could not read');
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${type}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
