import assert from 'node:assert/strict';
import Cloudflare, { APIError } from 'cloudflare';
import { CLOUDFLARE_ERRORS, type CloudflareErrorName } from '../../src/http/cloudflare/cloudflare-errors.js';
import type { TestServer } from '../support/test-server.js';

/** One HTTP exchange as the client saw it. */
export interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly contentType: string | null;
  readonly headers: Headers;
  readonly text: string;
  readonly body: Envelope;
}

export interface Envelope {
  success: boolean;
  errors: { code: number; message: string; source?: { pointer: string } }[];
  messages: unknown[];
  result: unknown;
  result_info?: { count: number; page: number; per_page: number; total_count: number };
}

/**
 * Every response a test sees goes through here, SDK calls included: the envelope invariants
 * (section 12 of the reference) are checked on each one, and the bodies are kept so that a test
 * can assert no secret value ever left the server.
 */
export class ExchangeLog {
  readonly exchanges: Exchange[] = [];

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const response = await fetch(request);
    const text = await response.clone().text();
    const exchange: Exchange = {
      method: request.method,
      url: request.url,
      status: response.status,
      contentType: response.headers.get('content-type'),
      headers: response.headers,
      text,
      body: parseEnvelope(text, response.status, request),
    };
    this.exchanges.push(exchange);
    return response;
  };

  /** Fails when any value appears in any response body seen so far. */
  assertNoneContains(values: readonly string[]): void {
    for (const e of this.exchanges) {
      for (const v of values) {
        assert.ok(!e.text.includes(v), `${e.method} ${e.url} (${e.status}) leaked a secret value`);
      }
    }
  }
}

function parseEnvelope(text: string, status: number, request: Request): Envelope {
  const where = `${request.method} ${request.url} → ${status}`;
  const body = JSON.parse(text) as Envelope;
  assert.equal(typeof body.success, 'boolean', `${where}: success`);
  assert.ok(Array.isArray(body.errors), `${where}: errors`);
  assert.ok(Array.isArray(body.messages), `${where}: messages`);
  assert.ok('result' in body, `${where}: result`);
  if (status >= 200 && status < 300) {
    assert.equal(body.success, true, `${where}: 2xx must be success:true`);
    assert.deepEqual(body.errors, [], `${where}: errors on success`);
  } else {
    assert.ok(status >= 400, `${where}: unexpected status`);
    assert.equal(body.success, false, `${where}: 4xx/5xx must be success:false`);
    assert.equal(body.result, null, `${where}: result must be null on failure`);
    assert.ok(body.errors.length > 0, `${where}: errors must not be empty`);
    for (const e of body.errors) {
      assert.ok(Number.isInteger(e.code) && e.code >= 1000, `${where}: code ${e.code}`);
      // A sentence for people, as Cloudflare's are, not a bare slug; clients match on the code.
      assert.match(e.message, /\S \S/, `${where}: message must be a sentence: ${e.message}`);
      assert.ok(e.code !== 10000 && e.code !== 9106, `${where}: wrangler auth codes are avoided`);
    }
  }
  return body;
}

export function assertJsonContentType(exchange: Exchange): void {
  assert.match(exchange.contentType ?? '', /^application\/json(;|$)/, `${exchange.url}: content-type`);
}

export function sdkClient(
  server: TestServer,
  log: ExchangeLog,
  credentials: { apiToken: string } | { apiKey: string; apiEmail: string },
): Cloudflare {
  return new Cloudflare({
    ...credentials,
    baseURL: `${server.url}/client/v4`,
    maxRetries: 0,
    fetch: log.fetch,
  });
}

export interface RawOptions {
  readonly token?: string | null;
  readonly headers?: Record<string, string>;
  /** A JSON value to send, or a string sent as is. */
  readonly body?: unknown;
  readonly rawBody?: string | Buffer;
  readonly contentType?: string;
}

/** A raw `fetch` under `/client/v4`, through the log (so the envelope is checked). */
export async function raw(
  server: TestServer,
  log: ExchangeLog,
  method: string,
  path: string,
  options: RawOptions = {},
): Promise<Exchange> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined && options.token !== null)
    headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = body;
  await log.fetch(`${server.url}/client/v4${path}`, init);
  const exchange = log.exchanges.at(-1);
  assert.ok(exchange);
  assertJsonContentType(exchange);
  return exchange;
}

/** Checks the status and that one error carries the code of `name` (docs/cloudflare-errors.md). */
export function assertError(exchange: Exchange, status: number, name: CloudflareErrorName): void {
  assert.equal(exchange.status, status, `${exchange.url}: ${exchange.text}`);
  const code = CLOUDFLARE_ERRORS[name].code;
  assert.ok(
    exchange.body.errors.some((e) => e.code === code),
    `expected ${name} (${code}) in ${exchange.text}`,
  );
}

/** Awaits a rejected SDK call and returns the error, checking its HTTP status and first message. */
export async function sdkRejects(
  call: Promise<unknown>,
  status: number,
  name?: CloudflareErrorName,
): Promise<APIError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof APIError, String(error));
    assert.equal(error.status, status, error.message);
    if (name !== undefined) {
      const errors = error.errors as { code?: number }[];
      const code = CLOUDFLARE_ERRORS[name].code;
      assert.ok(
        errors.some((e) => e.code === code),
        `expected ${name} (${code}): ${error.message}`,
      );
    }
    return error;
  }
  assert.fail(`expected a ${status}`);
}

export function accountPath(account: string, rest = ''): string {
  return `/accounts/${encodeURIComponent(account)}/secrets_store${rest}`;
}

export function systemPath(account: string, rest = ''): string {
  return `/system/accounts/${encodeURIComponent(account)}/stores${rest}`;
}
