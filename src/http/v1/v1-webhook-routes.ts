import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import type { DeliveryView, WebhookView, WebhookWithSecret } from '../../core/webhooks/webhook-service.js';
import { callerOf } from '../auth.js';
import { noContent, refTo } from '../response-schemas.js';
import { problems, TenantParams } from './v1-schemas.js';
import {
  DELIVERY_PAGE_DEFAULT,
  DeliveriesQuery,
  DeliveryPage,
  type DeliveryWireView,
  WEBHOOK_ID_PATTERN,
  WebhookBody,
  WebhookList,
  WebhookSchema,
  type WebhookWireView,
  WebhookWithSecretSchema,
  type WebhookWithSecretView,
} from './v1-webhook-wire-schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();

export const WebhookParams = Type.Object({
  tenant: TenantParams.properties.tenant,
  webhook: Type.String({
    pattern: WEBHOOK_ID_PATTERN,
    description: 'Webhook id (32 hex).',
    'x-message': 'The webhook id must be 32 lower-case hex characters.',
  }),
});

function webhookView(w: WebhookView): WebhookWireView {
  return {
    id: w.id,
    url: w.url,
    eventKinds: [...w.eventKinds],
    stores: [...w.stores],
    enabled: w.enabled,
    secretVersion: w.secretVersion,
    createdAt: iso(w.createdAt),
    updatedAt: iso(w.updatedAt),
  };
}

function withSecretView(w: WebhookWithSecret): WebhookWithSecretView {
  return { ...webhookView(w), secret: w.secret };
}

function deliveryView(d: DeliveryView): DeliveryWireView {
  return {
    n: d.n,
    eventId: d.eventId,
    kind: d.kind,
    store: d.store,
    status: d.status,
    attempts: d.attempts,
    lastError: d.lastError,
    lastStatus: d.lastStatus,
    nextAttemptAt: d.nextAttemptAt === null ? null : iso(d.nextAttemptAt),
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
}

const ADMIN = 'Admins only (a key holding `*`).';

/** `/v1/tenants/{tenant}/webhooks…`: signed change notifications (docs/notifications.md). */
export function v1WebhookRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/tenants/:tenant/webhooks',
      {
        schema: {
          operationId: 'v1ListWebhooks',
          tags: ['Native'],
          summary: 'List webhooks',
          description: `The tenant's webhooks (never their secrets). ${ADMIN}`,
          params: TenantParams,
          response: { 200: WebhookList, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const items = await core.webhooks.list(callerOf(request), request.params.tenant);
        return { items: items.map(webhookView) };
      },
    );

    app.post(
      '/tenants/:tenant/webhooks',
      {
        schema: {
          operationId: 'v1CreateWebhook',
          tags: ['Native'],
          summary: 'Create a webhook',
          description: `A webhook and its signing secret, which this answer alone shows. ${ADMIN}`,
          params: TenantParams,
          body: WebhookBody,
          response: {
            201: refTo(WebhookWithSecretSchema, { description: 'The webhook, with its secret (shown once)' }),
            ...problems(400, 401, 403, 404, 415),
          },
        },
      },
      async (request, reply) => {
        const created = await core.webhooks.create(callerOf(request), request.params.tenant, request.body);
        return reply.code(201).send(withSecretView(created));
      },
    );

    app.get(
      '/tenants/:tenant/webhooks/:webhook',
      {
        schema: {
          operationId: 'v1GetWebhook',
          tags: ['Native'],
          summary: 'Get a webhook',
          description: `A webhook (never its secret). ${ADMIN}`,
          params: WebhookParams,
          response: {
            200: refTo(WebhookSchema, { description: 'The webhook' }),
            ...problems(400, 401, 403, 404),
          },
        },
      },
      async (request) => {
        const { tenant, webhook } = request.params;
        return webhookView(await core.webhooks.get(callerOf(request), tenant, webhook));
      },
    );

    app.put(
      '/tenants/:tenant/webhooks/:webhook',
      {
        schema: {
          operationId: 'v1UpdateWebhook',
          tags: ['Native'],
          summary: 'Update a webhook',
          description: `Replaces URL, event kinds and stores (and \`enabled\` when given); the secret stays. ${ADMIN}`,
          params: WebhookParams,
          body: WebhookBody,
          response: {
            200: refTo(WebhookSchema, { description: 'The webhook' }),
            ...problems(400, 401, 403, 404, 415),
          },
        },
      },
      async (request) => {
        const { tenant, webhook } = request.params;
        return webhookView(await core.webhooks.update(callerOf(request), tenant, webhook, request.body));
      },
    );

    app.delete(
      '/tenants/:tenant/webhooks/:webhook',
      {
        schema: {
          operationId: 'v1DeleteWebhook',
          tags: ['Native'],
          summary: 'Delete a webhook',
          description: `Deletes the webhook and its delivery log; nothing more is sent. ${ADMIN}`,
          params: WebhookParams,
          response: { 204: noContent('Deleted'), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const { tenant, webhook } = request.params;
        await core.webhooks.delete(callerOf(request), tenant, webhook);
        return reply.code(204).send();
      },
    );

    app.post(
      '/tenants/:tenant/webhooks/:webhook/rotate-secret',
      {
        schema: {
          operationId: 'v1RotateWebhookSecret',
          tags: ['Native'],
          summary: "Rotate a webhook's signing secret",
          description: `A new signing secret, shown this once; deliveries are signed with it from now on. ${ADMIN}`,
          params: WebhookParams,
          response: {
            200: refTo(WebhookWithSecretSchema, {
              description: 'The webhook, with its new secret (shown once)',
            }),
            ...problems(400, 401, 403, 404),
          },
        },
      },
      async (request) => {
        const { tenant, webhook } = request.params;
        return withSecretView(await core.webhooks.rotateSecret(callerOf(request), tenant, webhook));
      },
    );

    app.get(
      '/tenants/:tenant/webhooks/:webhook/deliveries',
      {
        schema: {
          operationId: 'v1ListWebhookDeliveries',
          tags: ['Native'],
          summary: "A webhook's delivery log",
          description: `Each change sent or to send: status, attempts, last error, next attempt; newest first. ${ADMIN}`,
          params: WebhookParams,
          querystring: DeliveriesQuery,
          response: { 200: DeliveryPage, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { tenant, webhook } = request.params;
        const limit = request.query.limit ?? DELIVERY_PAGE_DEFAULT;
        const items = await core.webhooks.deliveries(callerOf(request), tenant, webhook, {
          limit,
          ...(request.query.before === undefined ? {} : { before: request.query.before }),
        });
        const last = items.at(-1);
        return {
          items: items.map(deliveryView),
          nextBefore: items.length === limit && last !== undefined && last.n > 1 ? last.n : null,
        };
      },
    );
  };
}
