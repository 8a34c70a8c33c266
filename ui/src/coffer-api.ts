/**
 * The console's only way out: Coffer's own APIs on this origin (`/v1` for stores, secrets and
 * values; `/api/{tenant}/admin/apiKeys` for keys; `/api/{tenant}/audit` for the audit trail).
 * The token goes in the Authorization header, never in a URL.
 */

// Every answer's type comes from its route's schema (written once: src/http/v1/v1-wire-schemas.ts,
// src/http/neostore/neostore-wire-schemas.ts). Type-only: nothing of the server, nor TypeBox, ends
// up in the bundle.
import type {
  ApiKeyCreatedResponse,
  ApiKeyDefinition,
  AuditEvent as AuditEventView,
  AuditPage as AuditPageView,
} from '../../src/http/neostore/neostore-wire-schemas.js';
import type { PageOf, PutSecretBody, SecretView, StoreView } from '../../src/http/v1/v1-wire-schemas.js';
import type {
  DeliveryPage,
  WebhookBody,
  WebhookList,
  WebhookWireView,
  WebhookWithSecretView,
} from '../../src/http/v1/v1-webhook-wire-schemas.js';

export interface Credentials {
  readonly tenant: string;
  readonly token: string;
}

/** A store, as `/v1` answers it: the type of the route's own schema. */
export type Store = Readonly<StoreView>;

/** A secret's metadata, with its value only when revealed (`?reveal=true`). */
export type Secret = Readonly<SecretView>;

/** One page of a `/v1` list; `nextCursor` is null on the last one. */
export type Page<T> = Readonly<PageOf<T>>;

/** An API key as `/api/{tenant}/admin/apiKeys` answers it; never its hash. */
export type ApiKey = Readonly<ApiKeyDefinition>;

/** The answer to a key's creation, the only one that holds its token. */
export type CreatedApiKey = Readonly<ApiKeyCreatedResponse>;

/** One audit event as `/api/{tenant}/audit` answers it. */
export type AuditEvent = Readonly<AuditEventView>;

export type AuditOutcome = AuditEvent['outcome'];

export type AuditPage = Readonly<AuditPageView>;

export interface AuditFilter {
  readonly action?: string;
  readonly actor?: string;
  readonly since?: string;
  readonly until?: string;
}

/** The body of `PUT …/secrets/{name}`: absent fields are kept, `null` clears. */
export type SecretWrite = PutSecretBody;

/** A webhook (never its secret). */
export type Webhook = Readonly<WebhookWireView>;
/** A webhook with its signing secret: only the answers to create and rotate. */
export type WebhookWithSecret = Readonly<WebhookWithSecretView>;
export type WebhookInput = WebhookBody;
export type Delivery = DeliveryPage['items'][number];

/** A refusal from Coffer (a ProblemDetails body), or a failure to reach it (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly fieldErrors: Readonly<Record<string, readonly string[]>> = {},
    readonly traceId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldErrorsOf(value: unknown): Record<string, string[]> {
  if (!isRecord(value)) return {};
  const out: Record<string, string[]> = {};
  for (const [field, messages] of Object.entries(value)) {
    if (Array.isArray(messages)) out[field] = messages.filter((m): m is string => typeof m === 'string');
  }
  return out;
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!isRecord(body)) return new ApiError(response.status, undefined, response.statusText);
  const str = (k: string) => (typeof body[k] === 'string' ? body[k] : undefined);
  return new ApiError(
    response.status,
    str('code'),
    str('detail') ?? str('title') ?? response.statusText,
    fieldErrorsOf(body.errors),
    str('traceId'),
  );
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

const enc = encodeURIComponent;

export class CofferApi {
  constructor(private readonly credentials: Credentials) {}

  get tenant(): string {
    return this.credentials.tenant;
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = {
      ...extra,
      authorization: `Bearer ${this.credentials.token}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        // Same origin only, no cookies needed (the token is the credential), nothing cached.
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch (error) {
      throw new ApiError(0, 'network_error', error instanceof Error ? error.message : String(error));
    }
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  private v1(path = ''): string {
    return `/v1/tenants/${enc(this.credentials.tenant)}${path}`;
  }

  listStores(options: { prefix?: string; cursor?: string; limit?: number } = {}): Promise<Page<Store>> {
    return this.call('GET', this.v1(`/stores${query(options)}`));
  }

  getStore(store: string): Promise<Store> {
    return this.call('GET', this.v1(`/stores/${enc(store)}`));
  }

  createStore(name: string): Promise<Store> {
    return this.call('POST', this.v1('/stores'), { name });
  }

  deleteStore(store: string, force: boolean): Promise<void> {
    return this.call('DELETE', this.v1(`/stores/${enc(store)}${query({ force: force || undefined })}`));
  }

  listSecrets(
    store: string,
    options: { prefix?: string; cursor?: string; limit?: number } = {},
  ): Promise<Page<Secret>> {
    return this.call('GET', this.v1(`/stores/${enc(store)}/secrets${query(options)}`));
  }

  /** The one call that returns a value; Coffer records it in the audit trail. */
  revealSecret(store: string, name: string): Promise<Secret> {
    return this.call('GET', this.v1(`/stores/${enc(store)}/secrets/${enc(name)}?reveal=true`));
  }

  /** `createOnly`: refused (412) when the name is taken, so a create never overwrites a secret. */
  putSecret(store: string, name: string, write: SecretWrite, createOnly = false): Promise<Secret> {
    return this.call(
      'PUT',
      this.v1(`/stores/${enc(store)}/secrets/${enc(name)}`),
      write,
      createOnly ? { 'if-none-match': '*' } : {},
    );
  }

  deleteSecret(store: string, name: string): Promise<void> {
    return this.call('DELETE', this.v1(`/stores/${enc(store)}/secrets/${enc(name)}`));
  }

  listApiKeys(): Promise<ApiKey[]> {
    return this.call('GET', `/api/${enc(this.credentials.tenant)}/admin/apiKeys`);
  }

  createApiKey(name: string, permissions: string[], enabled: boolean): Promise<CreatedApiKey> {
    return this.call('POST', `/api/${enc(this.credentials.tenant)}/admin/apiKeys`, {
      name,
      permissions,
      enabled,
    });
  }

  setApiKeyEnabled(name: string, enabled: boolean): Promise<ApiKey> {
    return this.call('PUT', `/api/${enc(this.credentials.tenant)}/admin/apiKeys/${enc(name)}`, { enabled });
  }

  deleteApiKey(name: string): Promise<void> {
    return this.call('DELETE', `/api/${enc(this.credentials.tenant)}/admin/apiKeys/${enc(name)}`);
  }

  listWebhooks(): Promise<WebhookList> {
    return this.call('GET', this.v1('/webhooks'));
  }

  createWebhook(input: WebhookInput): Promise<WebhookWithSecret> {
    return this.call('POST', this.v1('/webhooks'), input);
  }

  updateWebhook(id: string, input: WebhookInput): Promise<Webhook> {
    return this.call('PUT', this.v1(`/webhooks/${enc(id)}`), input);
  }

  deleteWebhook(id: string): Promise<void> {
    return this.call('DELETE', this.v1(`/webhooks/${enc(id)}`));
  }

  rotateWebhookSecret(id: string): Promise<WebhookWithSecret> {
    return this.call('POST', this.v1(`/webhooks/${enc(id)}/rotate-secret`));
  }

  listDeliveries(id: string, limit = 50): Promise<DeliveryPage> {
    return this.call('GET', this.v1(`/webhooks/${enc(id)}/deliveries${query({ limit })}`));
  }

  listAudit(filter: AuditFilter & { cursor?: string; limit?: number }): Promise<AuditPage> {
    return this.call('GET', `/api/${enc(this.credentials.tenant)}/audit${query({ ...filter })}`);
  }
}
