import { waitUntil } from '../support/wait-until.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, and whether the `standardwebhooks` library verified it. */
export interface Received {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly body: string;
  readonly verified: boolean;
  /** What the library's verify() said when it refused. */
  readonly verifyError: string | null;
  /** The status this receiver answered it with (null: it never answered). */
  readonly answered: number | null;
}

/**
 * How the receiver answers its n-th request (0-based): a status, after an optional delay, or once
 * `hold` has settled.
 */
export type Responder = (
  n: number,
  body: string,
) => { status: number; delayMs?: number; hold?: Promise<unknown> };

/**
 * A real webhook receiver on a loopback port, verifying every request with the `standardwebhooks`
 * npm package (as a tenant's receiver would), against the secret it is told.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  secret: string | null = null;
  responder: Responder = () => ({ status: 204 });
  /** TCP connections the receiver accepted (deliveries share kept-alive ones). */
  connections = 0;
  readonly #server: Server;
  #url = '';
  readonly #waiters = new Set<() => void>();

  private constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', () => {
      this.connections += 1;
    });
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.#server.address() as AddressInfo;
    receiver.#url = `http://127.0.0.1:${port}`;
    return receiver;
  }

  get url(): string {
    return `${this.#url}/hook`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : '';
    };
    const headers = {
      'webhook-id': header('webhook-id'),
      'webhook-timestamp': header('webhook-timestamp'),
      'webhook-signature': header('webhook-signature'),
    };
    let verified = false;
    let verifyError: string | null = 'no secret';
    if (this.secret !== null) {
      try {
        new Webhook(this.secret).verify(body, headers);
        verified = true;
        verifyError = null;
      } catch (error) {
        verifyError = (error as Error).message;
      }
    }
    const n = this.received.length;
    const { status, delayMs, hold } = this.responder(n, body);
    const entry = {
      id: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      body,
      verified,
      verifyError,
      answered: null as number | null,
    };
    this.received.push(entry);
    if (delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (hold !== undefined) await hold;
    if (!res.destroyed) {
      entry.answered = status;
      res.writeHead(status).end();
    }
    for (const wake of this.#waiters) wake();
  }

  /** The distinct deliveries answered 2xx, in the order they first succeeded. */
  delivered(): Received[] {
    const seen = new Set<string>();
    const out: Received[] = [];
    for (const r of this.received) {
      if (r.answered === null || r.answered < 200 || r.answered >= 300 || seen.has(r.id)) continue;
      seen.add(r.id);
      out.push(r);
    }
    return out;
  }

  /** Waits (generously) until `done()` holds, re-checking after each request and every 100 ms. */
  until(done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    return waitUntil(done, this.#waiters, what, () => `received ${this.received.length}`, timeoutMs);
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
