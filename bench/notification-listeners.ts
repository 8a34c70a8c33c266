import { type ChildProcess, fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { createServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';
import { fileURLToPath } from 'node:url';

/**
 * The listeners of the notifications bench (bench/notifications-bench.ts): a webhook receiver (answers
 * 204 to every POST) and SSE subscribers of a tenant's change stream, reading and counting everything.
 * They run in the bench's process (`inProcessListeners`) or, by default, in a child process of their
 * own (`childListeners`, this file run as a script): in the bench's process, their work (100 streams
 * to read, every webhook request to answer) shares one event loop with autocannon, the load generator,
 * so the generator slows down with them and the server's throughput looks lower than it is.
 */
export interface Listeners {
  /** The receiver's port on 127.0.0.1. */
  readonly port: number;
  /** Opens `count` subscribers of the tenant's stream; resolves once all of them are open. */
  subscribe(url: string, token: string, count: number): Promise<void>;
  /** Closes the subscribers; answers how many change events they received. */
  unsubscribe(): Promise<number>;
  /** Webhook requests received so far. */
  received(): Promise<number>;
  /** CPU time (user + system) of the process the listeners run in so far, µs. */
  cpu(): Promise<number>;
  close(): Promise<void>;
}

const CHANGE_BYTES = Buffer.from('\nevent: change\n', 'latin1');
/**
 * BENCH_SSE_GZIP=1: the subscribers send `Accept-Encoding: gzip` (as EventSource in browsers and
 * fetch-based clients do) and gunzip here; by default they ask for no compression, as the figures
 * before it was offered were measured (and their gunzip, on this machine, takes CPU from the server
 * when it is not pinned).
 */
export const SSE_GZIP = process.env.BENCH_SSE_GZIP === '1';

export async function inProcessListeners(): Promise<Listeners> {
  let received = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  let controller: AbortController | null = null;
  let events = 0;
  return {
    port: (receiver.address() as AddressInfo).port,
    async subscribe(url, token, count) {
      const signal = (controller = new AbortController()).signal;
      // Every subscriber's request listens on this one signal (Node warns past 10 by default).
      setMaxListeners(count + 1, signal);
      const opened: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        opened.push(
          new Promise<void>((resolve, reject) => {
            // node:http and Buffers: what a lean subscriber does. (fetch's web streams and a string per
            // chunk cost this process three times the CPU, on the two cores the server also runs on.)
            const req = httpGet(
              `${url}/v1/tenants/default/events`,
              {
                headers: {
                  authorization: `Bearer ${token}`,
                  accept: 'text/event-stream',
                  ...(SSE_GZIP ? { 'accept-encoding': 'gzip' } : {}),
                },
                signal,
              },
              (res) => {
                if (res.statusCode !== 200) {
                  reject(new Error(`subscribe: ${res.statusCode}`));
                  res.resume();
                  return;
                }
                resolve();
                // Gunzipped here when the server compressed (as fetch and browsers do on their own).
                const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
                // Counts frames that begin `event: change` (each frame follows a blank line), across chunks.
                let tail = Buffer.from('\n');
                body.on('data', (chunk: Buffer) => {
                  // A frame start split by the chunk boundary begins in the tail.
                  const joint = Buffer.concat([tail, chunk.subarray(0, CHANGE_BYTES.length - 1)]);
                  for (let at = joint.indexOf(CHANGE_BYTES); at >= 0 && at < tail.length;) {
                    events += 1;
                    at = joint.indexOf(CHANGE_BYTES, at + 1);
                  }
                  for (
                    let at = chunk.indexOf(CHANGE_BYTES);
                    at >= 0;
                    at = chunk.indexOf(CHANGE_BYTES, at + 1)
                  ) {
                    events += 1;
                  }
                  const keep = CHANGE_BYTES.length - 1;
                  tail =
                    chunk.length >= keep
                      ? Buffer.from(chunk.subarray(chunk.length - keep))
                      : Buffer.concat([tail, chunk]).subarray(-keep);
                });
                body.on('error', () => undefined);
                res.on('error', () => undefined);
              },
            );
            req.on('error', (error) => {
              if (!signal.aborted) reject(error);
            });
          }),
        );
      }
      await Promise.all(opened);
    },
    async unsubscribe() {
      controller?.abort();
      controller = null;
      const n = events;
      events = 0;
      return n;
    },
    async received() {
      return received;
    },
    async cpu() {
      const { user, system } = process.cpuUsage();
      return user + system;
    },
    async close() {
      controller?.abort();
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    },
  };
}

type Call =
  | { op: 'subscribe'; url: string; token: string; count: number }
  | { op: 'unsubscribe' | 'received' | 'cpu' | 'close' };
type Request = Call & { id: number };
type Reply = { id: number; value?: number; error?: string } | { ready: number };

/** The listeners in a child process of their own (this module run as a script), driven over IPC. */
export async function childListeners(): Promise<Listeners> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, { resolve: (v: number) => void; reject: (e: Error) => void }>();
  let next = 0;
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`listeners exited: ${code}`)));
    child.on('message', (m: Reply) => {
      if ('ready' in m) return resolve(m.ready);
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.value ?? 0);
    });
  });
  const call = (request: Call) =>
    new Promise<number>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      child.send({ ...request, id });
    });
  return {
    port,
    subscribe: async (url, token, count) => {
      await call({ op: 'subscribe', url, token, count });
    },
    unsubscribe: () => call({ op: 'unsubscribe' }),
    received: () => call({ op: 'received' }),
    cpu: () => call({ op: 'cpu' }),
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      await call({ op: 'close' }).catch(() => 0);
      child.disconnect();
      await exited;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  const listeners = await inProcessListeners();
  const send = (reply: Reply) => process.send?.(reply);
  process.on('message', (request: Request) => {
    const run = async (): Promise<number> => {
      switch (request.op) {
        case 'subscribe':
          await listeners.subscribe(request.url, request.token, request.count);
          return 0;
        case 'unsubscribe':
          return listeners.unsubscribe();
        case 'received':
          return listeners.received();
        case 'cpu':
          return listeners.cpu();
        case 'close':
          await listeners.close();
          return 0;
      }
    };
    run().then(
      (value) => send({ id: request.id, value }),
      (error: unknown) => send({ id: request.id, error: String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready: listeners.port });
}
