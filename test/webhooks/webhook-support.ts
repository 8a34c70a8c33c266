import assert from 'node:assert/strict';
import { request } from '../support/http-client.js';
import type { TestServer } from '../support/test-server.js';

export const TENANT = 'default';

/** The answer to a webhook creation (or rotation): the webhook with its secret. */
export interface CreatedWebhook {
  readonly id: string;
  readonly secret: string;
  readonly secretVersion: number;
}

function isCreated(v: unknown): v is CreatedWebhook {
  return (
    typeof v === 'object' &&
    v !== null &&
    'id' in v &&
    typeof v.id === 'string' &&
    'secret' in v &&
    typeof v.secret === 'string'
  );
}

export async function createWebhook(
  base: string,
  token: string,
  body: { url: string; eventKinds: string[]; stores?: string[] },
): Promise<CreatedWebhook> {
  const res = await request(base, 'POST', `/v1/tenants/${TENANT}/webhooks`, { token, auth: 'bearer', body });
  assert.equal(res.status, 201, res.text);
  assert.ok(isCreated(res.json), res.text);
  return res.json;
}

export async function createStore(server: { url: string; adminToken: string }, name: string): Promise<void> {
  const res = await request(server.url, 'POST', `/v1/tenants/${TENANT}/stores`, {
    token: server.adminToken,
    auth: 'bearer',
    body: { name },
  });
  assert.equal(res.status, 201, res.text);
}

export async function putSecret(
  server: { url: string; adminToken: string },
  store: string,
  name: string,
  value: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await request(
    server.url,
    'PUT',
    `/v1/tenants/${TENANT}/stores/${encodeURIComponent(store)}/secrets/${name}`,
    { token: server.adminToken, auth: 'bearer', body: { value }, headers },
  );
  return res.status;
}

export interface LogEntry {
  readonly n: number;
  readonly eventId: string;
  readonly kind: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly lastError: string | null;
  readonly lastStatus: number | null;
  readonly nextAttemptAt: string | null;
}

function isLog(v: unknown): v is { items: LogEntry[] } {
  return typeof v === 'object' && v !== null && 'items' in v && Array.isArray(v.items);
}

export async function deliveryLog(
  server: TestServer | { url: string; adminToken: string },
  id: string,
): Promise<LogEntry[]> {
  const res = await request(server.url, 'GET', `/v1/tenants/${TENANT}/webhooks/${id}/deliveries`, {
    token: server.adminToken,
    auth: 'bearer',
  });
  assert.equal(res.status, 200, res.text);
  assert.ok(isLog(res.json));
  return res.json.items;
}

/** Waits, re-reading the log every 100 ms, until `done` holds for it. */
export async function logUntil(
  server: { url: string; adminToken: string },
  id: string,
  done: (log: LogEntry[]) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<LogEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await deliveryLog(server, id);
    if (done(log)) return log;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(log)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The `type` and `data` of a delivery body. */
export function bodyOf(raw: string): { type: string; data: Record<string, unknown> } {
  const parsed: unknown = JSON.parse(raw);
  assert.ok(typeof parsed === 'object' && parsed !== null && 'type' in parsed && 'data' in parsed);
  assert.equal(typeof parsed.type, 'string');
  assert.ok(typeof parsed.data === 'object' && parsed.data !== null);
  return { type: String(parsed.type), data: parsed.data as Record<string, unknown> };
}

/** The name of the secret (or store) a delivery is about. */
export function secretNameOf(raw: string): string | null {
  const secret = bodyOf(raw).data.secret;
  if (typeof secret !== 'object' || secret === null || !('name' in secret)) return null;
  return typeof secret.name === 'string' ? secret.name : null;
}

export function storeNameOf(raw: string): string | null {
  const store = bodyOf(raw).data.store;
  if (typeof store !== 'object' || store === null || !('name' in store)) return null;
  return typeof store.name === 'string' ? store.name : null;
}
