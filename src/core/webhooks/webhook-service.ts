import { newId } from '../../crypto/tokens.js';
import type { Keyring } from '../../crypto/keyring.js';
import { requireAdmin } from '../actor.js';
import type { AuditTrail } from '../audit-trail.js';
import { type Caller, callContextOf } from '../call-context.js';
import type { Clock } from '../clock.js';
import { InvalidError, NotFoundError } from '../errors.js';
import { assertStoreName, assertTenantId } from '../names.js';
import type { Repository } from '../ports/repository.js';
import { validateWebhookUrl } from './webhook-destination.js';
import { encodePosition } from '../change-events.js';
import { isWebhookEventKind, WEBHOOK_EVENT_KINDS, type WebhookFeedHead } from './webhook-events.js';
import type { WebhookDeliveryRecord, WebhookRecord } from './webhook-records.js';
import { generateWebhookSecret, sealWebhookSecret } from './webhook-secret.js';

/** Most webhooks one tenant may have. */
export const MAX_WEBHOOKS_PER_TENANT = 50;
/** Most stores one webhook may name. */
export const MAX_WEBHOOK_STORES = 100;
export const MAX_DELIVERY_PAGE = 1000;

export interface WebhookServiceDeps {
  readonly repository: Repository;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly audit: AuditTrail;
  /** Where new webhooks start reading (the feed's head at creation). */
  readonly events: WebhookFeedHead;
  /** COFFER_WEBHOOKS_ALLOW_PRIVATE: loopback, private and link-local destinations allowed. */
  readonly allowPrivate: boolean;
}

/** What may leave the service: never the secret (shown once, by `create` and `rotateSecret`). */
export interface WebhookView {
  readonly id: string;
  readonly url: string;
  readonly eventKinds: readonly string[];
  readonly stores: readonly string[];
  readonly enabled: boolean;
  readonly secretVersion: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface WebhookWithSecret extends WebhookView {
  /** `whsec_…`: shown here once; stored sealed. */
  readonly secret: string;
}

export interface WebhookInput {
  readonly url: string;
  readonly eventKinds: readonly string[];
  readonly stores?: readonly string[];
  readonly enabled?: boolean;
}

export type DeliveryView = Omit<WebhookDeliveryRecord, 'webhookId' | 'payload'>;

function view(w: WebhookRecord): WebhookView {
  return {
    id: w.id,
    url: w.url,
    eventKinds: w.eventKinds,
    stores: w.stores,
    enabled: w.enabled,
    secretVersion: w.secretVersion,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
  };
}

function deliveryView(d: WebhookDeliveryRecord): DeliveryView {
  return {
    n: d.n,
    eventId: d.eventId,
    kind: d.kind,
    store: d.store,
    status: d.status,
    attempts: d.attempts,
    lastError: d.lastError,
    lastStatus: d.lastStatus,
    nextAttemptAt: d.nextAttemptAt,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

function webhookNotFound(): NotFoundError {
  return new NotFoundError('webhook_not_found', 'The webhook does not exist.');
}

const ID_PATTERN = /^[0-9a-f]{32}$/;
const webhookResource = (id: string) => `webhook:${ID_PATTERN.test(id) ? id : '(invalid)'}`;

function normaliseKinds(kinds: readonly string[]): string[] {
  const unknown = kinds.filter((k) => !isWebhookEventKind(k));
  if (unknown.length > 0) {
    throw InvalidError.field(
      'invalid_webhook',
      'eventKinds',
      `Unknown event kind: ${unknown.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}. Known: ${WEBHOOK_EVENT_KINDS.join(', ')}.`,
    );
  }
  const unique = [...new Set(kinds)];
  if (unique.length === 0) {
    throw InvalidError.field('invalid_webhook', 'eventKinds', 'At least one event kind is required.');
  }
  return unique;
}

function normaliseStores(stores: readonly string[]): string[] {
  if (stores.length > MAX_WEBHOOK_STORES) {
    throw InvalidError.field('invalid_webhook', 'stores', `At most ${MAX_WEBHOOK_STORES} stores.`);
  }
  for (const s of stores) assertStoreName(s, 'stores');
  return [...new Set(stores)];
}

/**
 * Webhooks: per tenant, a URL, the event kinds and stores to send, and a signing secret shown once.
 * Only admins manage them (`*`, or the operator). Every call is audited (resource `webhook:<id>`).
 * Delivery is not here: the worker (src/webhooks/) reads the feed after each webhook's cursor.
 */
export class WebhookService {
  readonly #deps: WebhookServiceDeps;

  constructor(deps: WebhookServiceDeps) {
    this.#deps = deps;
  }

  async list(caller: Caller, tenantId: string): Promise<WebhookView[]> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(
      ctx,
      { tenantId, action: 'webhook.list', resource: 'webhooks' },
      async () => {
        requireAdmin(ctx.actor, tenantId, 'manage webhooks');
        return (await this.#deps.repository.listWebhooks(tenantId)).map(view);
      },
    );
  }

  async get(caller: Caller, tenantId: string, id: string): Promise<WebhookView> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(
      ctx,
      { tenantId, action: 'webhook.get', resource: webhookResource(id) },
      async () => {
        requireAdmin(ctx.actor, tenantId, 'manage webhooks');
        const found = await this.#deps.repository.getWebhook(tenantId, id);
        if (found === null) throw webhookNotFound();
        return view(found);
      },
    );
  }

  async create(caller: Caller, tenantId: string, input: WebhookInput): Promise<WebhookWithSecret> {
    const ctx = callContextOf(caller);
    const id = newId();
    const entry = { tenantId, action: 'webhook.create', resource: webhookResource(id) };
    let url = '';
    let eventKinds: string[] = [];
    let stores: string[] = [];
    await this.#deps.audit.check(ctx, entry, () => {
      requireAdmin(ctx.actor, tenantId, 'manage webhooks');
      assertTenantId(tenantId);
      url = validateWebhookUrl(input.url, this.#deps.allowPrivate);
      eventKinds = normaliseKinds(input.eventKinds);
      stores = normaliseStores(input.stores ?? []);
    });
    const secret = generateWebhookSecret();
    const sealed = sealWebhookSecret(this.#deps.keyring, tenantId, id, 1, secret);
    // Read before the transaction: events committed from here on are delivered (ones committed in
    // between by other writers may be delivered too; never one from before this read).
    const cursor = encodePosition(await this.#deps.events.head(tenantId));
    const now = this.#deps.clock.now();
    const record: WebhookRecord = {
      tenantId,
      id,
      url,
      eventKinds,
      stores,
      enabled: input.enabled ?? true,
      secretKekId: sealed.kekId,
      secretWrappedKey: sealed.wrappedKey,
      secretCiphertext: sealed.ciphertext,
      secretVersion: 1,
      cursor,
      lastDelivery: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      await tx.ensureTenant({ id: tenantId, createdAt: now });
      if ((await tx.listWebhooks(tenantId)).length >= MAX_WEBHOOKS_PER_TENANT) {
        throw InvalidError.field(
          'invalid_webhook',
          'url',
          `A tenant may have at most ${MAX_WEBHOOKS_PER_TENANT} webhooks.`,
        );
      }
      await tx.insertWebhook(record);
    });
    return { ...view(record), secret };
  }

  /** Replaces URL, kinds, stores and `enabled` (omitted stores: every store; omitted enabled: unchanged). */
  async update(caller: Caller, tenantId: string, id: string, input: WebhookInput): Promise<WebhookView> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'webhook.update', resource: webhookResource(id) };
    let url = '';
    let eventKinds: string[] = [];
    let stores: string[] = [];
    await this.#deps.audit.check(ctx, entry, () => {
      requireAdmin(ctx.actor, tenantId, 'manage webhooks');
      url = validateWebhookUrl(input.url, this.#deps.allowPrivate);
      eventKinds = normaliseKinds(input.eventKinds);
      stores = normaliseStores(input.stores ?? []);
    });
    const updated = await this.#deps.audit.change(ctx, entry, async (tx) => {
      const current = await tx.getWebhook(tenantId, id);
      if (current === null) throw webhookNotFound();
      const changed = await tx.updateWebhook(tenantId, id, {
        url,
        eventKinds,
        stores,
        enabled: input.enabled ?? current.enabled,
        updatedAt: this.#deps.clock.now(),
      });
      if (changed === null) throw webhookNotFound();
      return changed;
    });
    return view(updated);
  }

  async delete(caller: Caller, tenantId: string, id: string): Promise<void> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'webhook.delete', resource: webhookResource(id) };
    await this.#deps.audit.check(ctx, entry, () => requireAdmin(ctx.actor, tenantId, 'manage webhooks'));
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      if (!(await tx.deleteWebhook(tenantId, id))) throw webhookNotFound();
    });
  }

  /** A new signing secret, shown once; the old one stops signing at once. */
  async rotateSecret(caller: Caller, tenantId: string, id: string): Promise<WebhookWithSecret> {
    const ctx = callContextOf(caller);
    const entry = { tenantId, action: 'webhook.rotate_secret', resource: webhookResource(id) };
    await this.#deps.audit.check(ctx, entry, () => requireAdmin(ctx.actor, tenantId, 'manage webhooks'));
    const secret = generateWebhookSecret();
    const rotated = await this.#deps.audit.change(ctx, entry, async (tx) => {
      const current = await tx.getWebhook(tenantId, id);
      if (current === null) throw webhookNotFound();
      const version = current.secretVersion + 1;
      const sealed = sealWebhookSecret(this.#deps.keyring, tenantId, id, version, secret);
      const updatedAt = this.#deps.clock.now();
      await tx.setWebhookSecret(tenantId, id, { ...sealed, version, updatedAt });
      return { ...current, secretVersion: version, updatedAt };
    });
    return { ...view(rotated), secret };
  }

  /** The delivery log, newest first (`before`: entries numbered below it). */
  async deliveries(
    caller: Caller,
    tenantId: string,
    id: string,
    page: { before?: number; limit: number },
  ): Promise<DeliveryView[]> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(
      ctx,
      { tenantId, action: 'webhook.deliveries', resource: webhookResource(id) },
      async () => {
        requireAdmin(ctx.actor, tenantId, 'manage webhooks');
        if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > MAX_DELIVERY_PAGE) {
          throw InvalidError.field('invalid_limit', 'limit', `The limit must be 1-${MAX_DELIVERY_PAGE}.`);
        }
        if ((await this.#deps.repository.getWebhook(tenantId, id)) === null) throw webhookNotFound();
        const rows = await this.#deps.repository.listWebhookDeliveries(id, page);
        return rows.map(deliveryView);
      },
    );
  }
}
