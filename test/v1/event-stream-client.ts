import { get, type IncomingHttpHeaders } from 'node:http';
import { createGunzip } from 'node:zlib';
import { waitUntil } from '../support/wait-until.js';

/** A Server-Sent Events client for tests: real HTTP, frames parsed as a browser's EventSource does. */
export interface StreamEvent {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
}

export class EventStream {
  readonly status: number;
  readonly events: StreamEvent[] = [];
  /** The last `id:` seen, in an event or alone (what EventSource would send as Last-Event-ID). */
  lastEventId: string | null = null;
  ended = false;
  readonly #controller: AbortController;
  readonly #waiters = new Set<() => void>();

  private constructor(status: number, controller: AbortController) {
    this.status = status;
    this.#controller = controller;
  }

  static async open(url: string, token: string, headers: Record<string, string> = {}): Promise<EventStream> {
    const controller = new AbortController();
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers },
      signal: controller.signal,
    });
    const stream = new EventStream(res.status, controller);
    if (res.body === null || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
      stream.ended = true;
      await res.text().catch(() => undefined);
      return stream;
    }
    void stream.#pump(res.body.getReader());
    return stream;
  }

  async #pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.#frame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close().
    } finally {
      this.ended = true;
      this.#notify();
    }
  }

  #frame(text: string): void {
    let event = 'message';
    let id: string | null = null;
    const data: string[] = [];
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (id !== null) this.lastEventId = id;
    if (data.length > 0) this.events.push({ event, id, data: data.join('\n') });
    this.#notify();
  }

  #notify(): void {
    for (const wake of this.#waiters) wake();
  }

  /** The change events received so far, parsed. */
  changes(): ChangeData[] {
    return this.events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data) as ChangeData);
  }

  /** Waits (generously) until `predicate` holds on what was received; throws with what was seen. */
  async waitFor(what: string, predicate: (s: EventStream) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (this.ended && !predicate(this)) {
        throw new Error(`stream ended before ${what}; got ${JSON.stringify(this.events)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 250));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
      this.#waiters.clear();
    }
  }

  close(): void {
    this.#controller.abort();
  }
}

export interface ChangeData {
  readonly kind: string;
  readonly tenant: string;
  readonly store: { id: string | null; name: string | null } | null;
  readonly secret: { id: string | null; name: string | null } | null;
  readonly version: number | null;
  readonly apiKey: string | null;
  readonly actor: string;
  readonly time: string;
}

/**
 * A stream read with node:http, which decompresses nothing: `Accept-Encoding` as given (null: none),
 * the body gunzipped here when the server says gzip, as a client's own gunzip would (one that checks
 * the trailer: `error` is set if the stream does not end whole).
 */
export class RawStream {
  text = '';
  error: Error | null = null;
  readonly ended: Promise<void>;
  readonly #waiters = new Set<() => void>();

  private constructor(
    readonly headers: IncomingHttpHeaders,
    body: NodeJS.ReadableStream,
  ) {
    this.ended = new Promise<void>((resolve) => {
      body.on('data', (chunk: Buffer) => {
        this.text += chunk.toString('utf8');
        for (const wake of this.#waiters) wake();
      });
      body.on('error', (error: Error) => {
        this.error = error;
        resolve();
      });
      body.on('end', () => resolve());
    });
  }

  static open(url: string, token: string, acceptEncoding: string | null): Promise<RawStream> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
      };
      if (acceptEncoding !== null) headers['accept-encoding'] = acceptEncoding;
      get(url, { headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`status ${res.statusCode}`));
          return;
        }
        const body = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
        resolve(new RawStream(res.headers, body));
      }).on('error', reject);
    });
  }

  /** Waits (generously) until `done()` holds on the text received. */
  until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return waitUntil(done, this.#waiters, what, () => `got ${this.text.slice(-300)}`, timeoutMs);
  }
}
