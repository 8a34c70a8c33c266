import type { WebhookReads, WebhookWrites } from '../../core/ports/webhooks.js';
import type { WebhookDeliveryRecord, WebhookRecord } from '../../core/webhooks/webhook-records.js';
import type { PostgresConnection } from './postgres-connection.js';
import { DELIVERY_COLUMNS, num, toWebhook, toWebhookDelivery, WEBHOOK_COLUMNS } from './postgres-rows.js';

/** Webhooks and their delivery log: the port of src/core/ports/webhooks.ts on one PostgreSQL connection. */
export function postgresWebhookQueries(conn: PostgresConnection): WebhookReads & WebhookWrites {
  return {
    async getWebhook(tenantId: string, id: string): Promise<WebhookRecord | null> {
      const row = await conn.one(
        'coffer_get_webhook',
        `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2`,
        [tenantId, id],
      );
      return row ? toWebhook(row) : null;
    },
    async listWebhooks(tenantId: string): Promise<WebhookRecord[]> {
      const rows = await conn.all(
        'coffer_list_webhooks',
        `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id`,
        [tenantId],
      );
      return rows.map(toWebhook);
    },
    async listActiveWebhooks(): Promise<WebhookRecord[]> {
      const rows = await conn.all(
        'coffer_list_active_webhooks',
        `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE enabled ORDER BY id`,
      );
      return rows.map(toWebhook);
    },
    async listWebhookDeliveries(webhookId, page): Promise<WebhookDeliveryRecord[]> {
      const rows = await conn.all(
        'coffer_list_webhook_deliveries',
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND n < $2 ORDER BY n DESC LIMIT $3`,
        [webhookId, page.before ?? Number.MAX_SAFE_INTEGER, page.limit],
      );
      return rows.map(toWebhookDelivery);
    },
    async listPendingHeads(webhookId, limit): Promise<WebhookDeliveryRecord[]> {
      const rows = await conn.all(
        'coffer_list_pending_heads',
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND n IN (
           SELECT min(n) FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending' GROUP BY store)
         ORDER BY n LIMIT $2`,
        [webhookId, limit],
      );
      return rows.map(toWebhookDelivery);
    },
    async countPendingDeliveries(webhookId, limit): Promise<{ store: string; count: number }[]> {
      const rows = await conn.all(
        'coffer_count_pending_deliveries',
        `SELECT store, count(*) AS count FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending'
          GROUP BY store ORDER BY count DESC LIMIT $2`,
        [webhookId, limit],
      );
      return rows.map((row) => ({ store: String(row.store), count: num(row, 'count') }));
    },
    async nextPendingDelivery(webhookId, store, after): Promise<WebhookDeliveryRecord | null> {
      const row = await conn.one(
        'coffer_next_pending_delivery',
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
          WHERE webhook_id = $1 AND store = $2 AND status = 'pending' AND n > $3 ORDER BY n LIMIT 1`,
        [webhookId, store, after],
      );
      return row ? toWebhookDelivery(row) : null;
    },
    async insertWebhook(w): Promise<void> {
      await conn.changes(
        'coffer_insert_webhook',
        `INSERT INTO webhooks (${WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          w.id,
          w.tenantId,
          w.url,
          [...w.eventKinds],
          [...w.stores],
          w.enabled,
          w.secretKekId,
          w.secretWrappedKey,
          w.secretCiphertext,
          w.secretVersion,
          w.cursor,
          w.lastDelivery,
          w.createdAt,
          w.updatedAt,
        ],
      );
    },
    async updateWebhook(tenantId, id, patch): Promise<WebhookRecord | null> {
      const row = await conn.one(
        'coffer_update_webhook',
        `UPDATE webhooks SET url = $1, event_kinds = $2, stores = $3, enabled = $4, updated_at = $5
          WHERE tenant_id = $6 AND id = $7 RETURNING ${WEBHOOK_COLUMNS}`,
        [patch.url, [...patch.eventKinds], [...patch.stores], patch.enabled, patch.updatedAt, tenantId, id],
      );
      return row ? toWebhook(row) : null;
    },
    async setWebhookSecret(tenantId, id, s): Promise<boolean> {
      const n = await conn.changes(
        'coffer_set_webhook_secret',
        `UPDATE webhooks SET secret_kek_id = $1, secret_wrapped_key = $2, secret_ciphertext = $3, secret_version = $4,
          updated_at = $5 WHERE tenant_id = $6 AND id = $7`,
        [s.kekId, s.wrappedKey, s.ciphertext, s.version, s.updatedAt, tenantId, id],
      );
      return n === 1;
    },
    async deleteWebhook(tenantId, id): Promise<boolean> {
      // The log goes with it (ON DELETE CASCADE).
      const n = await conn.changes(
        'coffer_delete_webhook',
        'DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2',
        [tenantId, id],
      );
      return n === 1;
    },
    async claimWebhookLease(id, owner, now, until): Promise<boolean> {
      // A row lock for the statement only: two nodes claiming together take turns, and the second
      // sees the first's lease (READ COMMITTED re-evaluates the WHERE on the updated row).
      const n = await conn.changes(
        'coffer_claim_webhook_lease',
        `UPDATE webhooks SET lease_owner = $1, lease_until = $2
          WHERE id = $3 AND enabled AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4)`,
        [owner, until, id, now],
      );
      return n === 1;
    },
    async enqueueWebhookDeliveries(id, owner, cursor, deliveries, now): Promise<number | null> {
      const row = await conn.one(
        'coffer_advance_webhook_cursor',
        `UPDATE webhooks SET feed_cursor = $1, last_delivery = last_delivery + $2
          WHERE id = $3 AND lease_owner = $4 AND feed_cursor = $5 RETURNING last_delivery`,
        [cursor.to, deliveries.length, id, owner, cursor.from],
      );
      if (row === null) return null;
      const last = num(row, 'last_delivery');
      if (deliveries.length === 0) return last;
      const first = last - deliveries.length + 1;
      await conn.changes(
        'coffer_insert_webhook_deliveries',
        `INSERT INTO webhook_deliveries (${DELIVERY_COLUMNS})
         SELECT $1, $2::bigint + o - 1, e, k, s, p, 'pending', 0, NULL, NULL, $3::bigint, $3::bigint, $3::bigint
           FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS d(e, k, s, p, o)`,
        [
          id,
          first,
          now,
          deliveries.map((d) => d.eventId),
          deliveries.map((d) => d.kind),
          deliveries.map((d) => d.store),
          deliveries.map((d) => d.payload),
        ],
      );
      return last;
    },
    async recordDeliveryAttempt(webhookId, n, o): Promise<void> {
      await conn.changes(
        'coffer_record_delivery_attempt',
        `UPDATE webhook_deliveries SET status = $1, attempts = $2, last_error = $3, last_status = $4,
          next_attempt_at = $5, updated_at = $6 WHERE webhook_id = $7 AND n = $8`,
        [o.status, o.attempts, o.lastError, o.lastStatus, o.nextAttemptAt, o.updatedAt, webhookId, n],
      );
    },
    async pruneWebhookDeliveries(webhookId, upTo): Promise<void> {
      await conn.changes(
        'coffer_prune_webhook_deliveries',
        `DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND n <= $2 AND status <> 'pending'`,
        [webhookId, upTo],
      );
    },
  };
}
