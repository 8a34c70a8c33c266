import type { TestServer } from '../support/test-server.js';

export interface EnvsResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body, or undefined when it is not JSON. */
  readonly body: unknown;
}

export interface EnvsCall {
  /** Default: the server's admin token; null sends no Authorization header. */
  readonly token?: string | null;
  /** Serialised as JSON unless `raw`. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

/** Real HTTP against a test server; remembers every response body, to search them for values. */
export class EnvsClient {
  readonly #server: TestServer;
  readonly #base: string;
  readonly bodies: string[] = [];

  constructor(server: TestServer, base = '') {
    this.#server = server;
    this.#base = base;
  }

  async call(method: string, path: string, options: EnvsCall = {}): Promise<EnvsResponse> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.#server.adminToken : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (options.raw !== undefined) payload = options.raw;
    else if (options.body !== undefined) payload = JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const res = await fetch(`${this.#server.url}${this.#base}${path}`, { method, headers, body: payload });
    const text = await res.text();
    this.bodies.push(text);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, text, body };
  }
}

/** The envs path of a secret (or of the environment's list when `name` is absent). */
export function envPath(o: string, p: string, env: string, name?: string): string {
  return `/${o}/${p}/envs/${env}/secrets${name === undefined ? '' : `/${name}`}`;
}
