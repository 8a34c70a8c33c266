import { CofferApiError } from './coffer-api-error.js';
import { CofferConnectionError } from './coffer-connection-error.js';
import { readFrames, type StreamFrame } from './event-stream.js';
import type {
  ListOptions,
  Page,
  ProblemDetails,
  RevealedSecret,
  RevealResult,
  Secret,
  SecretInput,
  Store,
  DeliveryListing,
  DeliveryListOptions,
  Webhook,
  WebhookInput,
  WebhookListing,
  WebhookWithSecret,
  WriteCondition,
} from './native-api-types.js';

/**
 * Every operation the client calls, as the OpenAPI document names it: a test checks each one
 * against the live `/openapi.json`, so the client and the server cannot drift apart unnoticed.
 */
export const CLIENT_OPERATIONS = {
  health: { method: 'GET', path: '/healthz', operationId: 'health' },
  listStores: { method: 'GET', path: '/v1/tenants/{tenant}/stores', operationId: 'v1ListStores' },
  createStore: { method: 'POST', path: '/v1/tenants/{tenant}/stores', operationId: 'v1CreateStore' },
  getStore: { method: 'GET', path: '/v1/tenants/{tenant}/stores/{store}', operationId: 'v1GetStore' },
  deleteStore: {
    method: 'DELETE',
    path: '/v1/tenants/{tenant}/stores/{store}',
    operationId: 'v1DeleteStore',
  },
  listSecrets: {
    method: 'GET',
    path: '/v1/tenants/{tenant}/stores/{store}/secrets',
    operationId: 'v1ListSecrets',
  },
  getSecret: {
    method: 'GET',
    path: '/v1/tenants/{tenant}/stores/{store}/secrets/{name}',
    operationId: 'v1GetSecret',
  },
  putSecret: {
    method: 'PUT',
    path: '/v1/tenants/{tenant}/stores/{store}/secrets/{name}',
    operationId: 'v1PutSecret',
  },
  deleteSecret: {
    method: 'DELETE',
    path: '/v1/tenants/{tenant}/stores/{store}/secrets/{name}',
    operationId: 'v1DeleteSecret',
  },
  reveal: {
    method: 'POST',
    path: '/v1/tenants/{tenant}/stores/{store}/reveal',
    operationId: 'v1RevealSecrets',
  },
  watchTenant: { method: 'GET', path: '/v1/tenants/{tenant}/events', operationId: 'v1WatchTenant' },
  watchStore: {
    method: 'GET',
    path: '/v1/tenants/{tenant}/stores/{store}/events',
    operationId: 'v1WatchStore',
  },
  listWebhooks: { method: 'GET', path: '/v1/tenants/{tenant}/webhooks', operationId: 'v1ListWebhooks' },
  createWebhook: { method: 'POST', path: '/v1/tenants/{tenant}/webhooks', operationId: 'v1CreateWebhook' },
  getWebhook: {
    method: 'GET',
    path: '/v1/tenants/{tenant}/webhooks/{webhook}',
    operationId: 'v1GetWebhook',
  },
  updateWebhook: {
    method: 'PUT',
    path: '/v1/tenants/{tenant}/webhooks/{webhook}',
    operationId: 'v1UpdateWebhook',
  },
  deleteWebhook: {
    method: 'DELETE',
    path: '/v1/tenants/{tenant}/webhooks/{webhook}',
    operationId: 'v1DeleteWebhook',
  },
  rotateWebhookSecret: {
    method: 'POST',
    path: '/v1/tenants/{tenant}/webhooks/{webhook}/rotate-secret',
    operationId: 'v1RotateWebhookSecret',
  },
  listWebhookDeliveries: {
    method: 'GET',
    path: '/v1/tenants/{tenant}/webhooks/{webhook}/deliveries',
    operationId: 'v1ListWebhookDeliveries',
  },
} as const;

type Operation = keyof typeof CLIENT_OPERATIONS;
type PathParams = Partial<Record<'tenant' | 'store' | 'name' | 'webhook', string>>;

export interface CofferClientOptions {
  /** The server, e.g. `https://coffer.example.com` (a path prefix is kept). */
  readonly baseUrl: string;
  /** An API token, sent as `Authorization: Bearer <token>`. */
  readonly token: string;
  /** Retries after a 503 (default 3); each waits longer (`retryDelayMs` × 2^n, capped at 5 s). */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  /** For tests and custom transports; default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

interface CallOptions {
  readonly params: PathParams;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

const MAX_DELAY_MS = 5_000;

/**
 * A typed client for Coffer's native API (`/v1`, docs/native-api.md). An answer other than 2xx is a
 * CofferApiError, no answer at all (server down, unknown host, TLS) a CofferConnectionError naming the
 * server and why; a 503 (Coffer: "not done, retry") is retried a bounded number of times.
 * Values are returned only by `getSecret(…, { reveal: true })` and `reveal`.
 */
export class CofferClient {
  readonly #base: string;
  readonly #token: string;
  readonly #retries: number;
  readonly #delayMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: CofferClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#retries = Math.max(0, Math.floor(options.retries ?? 3));
    this.#delayMs = Math.max(0, options.retryDelayMs ?? 100);
    this.#fetch = options.fetch ?? fetch;
  }

  /** `GET /healthz`: resolves when the server answers as a Coffer (no permission needed). */
  async health(): Promise<void> {
    await this.#call('health', { params: {} });
  }

  listStores(tenant: string, options: ListOptions = {}): Promise<Page<Store>> {
    return this.#call('listStores', { params: { tenant }, query: { ...options } });
  }

  createStore(tenant: string, name: string): Promise<Store> {
    return this.#call('createStore', { params: { tenant }, body: { name } });
  }

  /** `store`: the store's id or its name (`default`, `web/production`, …). */
  getStore(tenant: string, store: string): Promise<Store> {
    return this.#call('getStore', { params: { tenant, store } });
  }

  async deleteStore(tenant: string, store: string, options: { force?: boolean } = {}): Promise<void> {
    await this.#call('deleteStore', { params: { tenant, store }, query: { force: options.force } });
  }

  listSecrets(tenant: string, store: string, options: ListOptions = {}): Promise<Page<Secret>> {
    return this.#call('listSecrets', { params: { tenant, store }, query: { ...options } });
  }

  /** Every secret of a store, page after page. */
  async *allSecrets(
    tenant: string,
    store: string,
    options: Omit<ListOptions, 'cursor'> = {},
  ): AsyncGenerator<Secret> {
    let cursor: string | undefined;
    do {
      const page = await this.listSecrets(tenant, store, {
        ...options,
        ...(cursor === undefined ? {} : { cursor }),
      });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  getSecret(tenant: string, store: string, name: string, options: { reveal: true }): Promise<RevealedSecret>;
  getSecret(tenant: string, store: string, name: string, options?: { reveal?: false }): Promise<Secret>;
  getSecret(
    tenant: string,
    store: string,
    name: string,
    options: { reveal?: boolean } = {},
  ): Promise<Secret> {
    return this.#call('getSecret', {
      params: { tenant, store, name },
      query: { reveal: options.reveal === true ? true : undefined },
    });
  }

  putSecret(
    tenant: string,
    store: string,
    name: string,
    input: SecretInput,
    condition: WriteCondition = {},
  ): Promise<Secret> {
    return this.#call('putSecret', {
      params: { tenant, store, name },
      body: input,
      headers: conditionHeaders(condition),
    });
  }

  async deleteSecret(
    tenant: string,
    store: string,
    name: string,
    condition: Pick<WriteCondition, 'ifMatch'> = {},
  ): Promise<void> {
    await this.#call('deleteSecret', {
      params: { tenant, store, name },
      headers: conditionHeaders(condition),
    });
  }

  /** The tenant's webhooks (admins only; docs/notifications.md). Never their signing secrets. */
  listWebhooks(tenant: string): Promise<WebhookListing> {
    return this.#call('listWebhooks', { params: { tenant } });
  }

  /** A new webhook; the answer holds its signing secret, this once. */
  createWebhook(tenant: string, input: WebhookInput): Promise<WebhookWithSecret> {
    return this.#call('createWebhook', { params: { tenant }, body: input });
  }

  getWebhook(tenant: string, webhook: string): Promise<Webhook> {
    return this.#call('getWebhook', { params: { tenant, webhook } });
  }

  updateWebhook(tenant: string, webhook: string, input: WebhookInput): Promise<Webhook> {
    return this.#call('updateWebhook', { params: { tenant, webhook }, body: input });
  }

  async deleteWebhook(tenant: string, webhook: string): Promise<void> {
    await this.#call('deleteWebhook', { params: { tenant, webhook } });
  }

  /** A new signing secret, shown this once; the old one stops signing at once. */
  rotateWebhookSecret(tenant: string, webhook: string): Promise<WebhookWithSecret> {
    return this.#call('rotateWebhookSecret', { params: { tenant, webhook } });
  }

  /** The webhook's delivery log, newest first: `before` an entry number pages back. */
  listWebhookDeliveries(
    tenant: string,
    webhook: string,
    options: DeliveryListOptions = {},
  ): Promise<DeliveryListing> {
    return this.#call('listWebhookDeliveries', { params: { tenant, webhook }, query: { ...options } });
  }

  /** Values of `names` (or of every secret holding one) in one round trip. */
  reveal(tenant: string, store: string, names?: readonly string[]): Promise<RevealResult> {
    return this.#call('reveal', { params: { tenant, store }, body: names === undefined ? {} : { names } });
  }

  /**
   * The change stream of a tenant, or of one store (docs/notifications.md): its Server-Sent Events
   * as they arrive (`ready`, `change` with the JSON of a change in `data`, `resync`, `closed`), until
   * the server ends it or `signal` aborts. Resume after a drop by passing the last `id` received as
   * `lastEventId`. A refusal is a CofferApiError before the first event.
   */
  async *changes(
    tenant: string,
    options: { store?: string; lastEventId?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<StreamFrame> {
    const operation = options.store === undefined ? 'watchTenant' : 'watchStore';
    const { path } = CLIENT_OPERATIONS[operation];
    const url = new URL(
      this.#base +
        expandPath(path, options.store === undefined ? { tenant } : { tenant, store: options.store }),
    );
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization: `Bearer ${this.#token}`,
    };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    let res: Response;
    try {
      res = await this.#fetch(url, {
        headers,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (options.signal?.aborted === true) return;
      throw new CofferConnectionError(this.#base === '' ? url.origin : this.#base, error);
    }
    if (!res.ok || res.body === null) throw new CofferApiError(res.status, parseProblem(await res.text()));
    try {
      yield* readFrames(res.body);
    } catch (error) {
      if (options.signal?.aborted === true) return;
      throw error;
    }
  }

  async #call<T>(operation: Operation, options: CallOptions): Promise<T> {
    const { method, path } = CLIENT_OPERATIONS[operation];
    const url = new URL(this.#base + expandPath(path, options.params));
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.#token}`,
      ...options.headers,
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(url, { method, headers, body });
      } catch (error) {
        // No answer at all: name the server (never the path, which holds names) and the reason.
        throw new CofferConnectionError(this.#base === '' ? url.origin : this.#base, error);
      }
      if (res.status === 503 && attempt < this.#retries) {
        await res.body?.cancel();
        await sleep(retryDelay(res.headers.get('retry-after'), this.#delayMs, attempt));
        continue;
      }
      const text = await res.text();
      if (res.ok) return (text === '' ? undefined : JSON.parse(text)) as T;
      throw new CofferApiError(res.status, parseProblem(text));
    }
  }
}

function expandPath(template: string, params: PathParams): string {
  return template.replace(/\{(tenant|store|name|webhook)\}/g, (_, key: keyof PathParams) => {
    const value = params[key];
    if (value === undefined || value === '') throw new TypeError(`CofferClient: '${key}' is required.`);
    // encodeURIComponent turns the '/' of an envs store name (`web/production`) into %2F.
    return encodeURIComponent(value);
  });
}

function conditionHeaders(condition: WriteCondition): Record<string, string> {
  const headers: Record<string, string> = {};
  if (condition.ifMatch !== undefined)
    headers['if-match'] = condition.ifMatch === '*' ? '*' : `"${condition.ifMatch}"`;
  if (condition.ifNoneMatch !== undefined) headers['if-none-match'] = condition.ifNoneMatch;
  return headers;
}

/** `Retry-After` seconds when the server sent them (capped), else exponential backoff with jitter. */
function retryDelay(retryAfter: string | null, baseMs: number, attempt: number): number {
  if (retryAfter !== null && /^\d{1,4}$/.test(retryAfter))
    return Math.min(Number(retryAfter) * 1000, MAX_DELAY_MS);
  const ceiling = Math.min(baseMs * 2 ** attempt, MAX_DELAY_MS);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseProblem(text: string): ProblemDetails | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as ProblemDetails)
      : null;
  } catch {
    return null;
  }
}
