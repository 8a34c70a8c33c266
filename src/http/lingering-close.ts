import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * Most bytes read and thrown away after an early answer, per connection; past it the connection is
 * closed at once (a reset). 8 MiB is the largest body any route accepts (Cloudflare's batch), so
 * an early answer never costs the server more reading than a request it accepts.
 */
export const LINGER_MAX_BYTES = 8 * 1024 * 1024;
/** Longest a connection lingers after an early answer (nginx's `lingering_time` default). */
export const LINGER_MAX_MS = 30_000;

const lingering = new WeakSet<Socket>();

/**
 * Keeps a connection open after its answer only to read and discard what the client still sends:
 * FIN after the answer, then read until the body ends, LINGER_MAX_BYTES or LINGER_MAX_MS.
 * Without it, Node closes the socket as soon as a `Connection: close` answer is flushed; unread
 * bytes then make the kernel send a reset, and a client still sending its body (Node's fetch with
 * a 3 MB PUT) gets EPIPE or ECONNRESET instead of the answer (issue 13).
 */
function linger(request: IncomingMessage): void {
  const { socket } = request;
  if (lingering.has(socket) || socket.destroyed) return;
  lingering.add(socket);
  let discarded = 0;
  const close = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(close, LINGER_MAX_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Nobody else reads this body: it flows here and is dropped. Reading the request (not the
  // socket) leaves Node's parser in charge of the connection, so it still finds where the body ends.
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_MAX_BYTES) close();
  });
  request.resume();
  let answered = false;
  request.once('end', () => {
    // The client has sent everything: nothing is left unread, so closing now cannot reset.
    if (answered) close();
  });
  // What Node calls once a `Connection: close` answer is flushed: half-close, keep reading.
  socket.destroySoon = () => {
    answered = true;
    if (request.complete) close();
    else if (socket.writable) socket.end();
  };
}

/**
 * An answer sent before the request's body was fully received (413 from the body limit, a 401 from
 * authentication, a 415, a 404 with a body…) closes the connection, lingering: the client can read
 * the answer whatever it was still sending, and the server reads at most LINGER_MAX_BYTES more.
 */
export function lingerOnEarlyAnswers(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    // An injected request (a refused method replayed, src/http/refused-methods.ts) has no real
    // connection and its body is all in memory: nothing to linger on.
    if (request.raw.complete || !(request.raw.socket instanceof Socket)) return payload;
    // The rest of the body is not wanted: the connection ends after this answer, so that a client
    // cannot keep the server reading an unbounded body (Node's keep-alive path discards it all).
    reply.header('connection', 'close');
    linger(request.raw);
    return payload;
  });
}
