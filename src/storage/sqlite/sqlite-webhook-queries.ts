import type { WebhookReads, WebhookWrites } from '../../core/ports/webhooks.js';
import type { WebhookDeliveryRecord, WebhookRecord } from '../../core/webhooks/webhook-records.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';
import { sqliteKeySlots } from './sqlite-key-slots.js';
import { toWebhook, toWebhookDelivery } from './sqlite-rows.js';

const WEBHOOK_COLUMNS =
  'id, tenant_id, url, event_kinds, stores, enabled, secret_kek_id, secret_wrapped_key, secret_ciphertext, secret_version, feed_cursor, last_delivery, created_at, updated_at';
/** What a row of the table holds: the wrapped key's slot in place of the key. */
const STORED_COLUMNS =
  'id, tenant_id, url, event_kinds, stores, enabled, secret_kek_id, secret_key_slot, secret_key_len, secret_ciphertext, secret_version, feed_cursor, last_delivery, created_at, updated_at';
const DELIVERY_COLUMNS =
  'webhook_id, n, event_id, kind, store, payload, status, attempts, last_error, last_status, next_attempt_at, created_at, updated_at';

/** Webhooks and their delivery log: the port of src/core/ports/webhooks.ts on one SQLite connection. */
export function sqliteWebhookQueries(conn: SqliteConnection): WebhookReads & WebhookWrites {
  const p = (sql: string) => conn.statement(sql);
  const keySlots = sqliteKeySlots(conn);
  const stmt = {
    // The signing secret's wrapped key is in a key slot (docs/adr/0008): reads go through the view.
    get: p(`SELECT ${WEBHOOK_COLUMNS} FROM sealed_webhooks WHERE tenant_id = ? AND id = ?`),
    list: p(`SELECT ${WEBHOOK_COLUMNS} FROM sealed_webhooks WHERE tenant_id = ? ORDER BY created_at, id`),
    listActive: p(`SELECT ${WEBHOOK_COLUMNS} FROM sealed_webhooks WHERE enabled = 1 ORDER BY id`),
    listDeliveries: p(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? AND n < ? ORDER BY n DESC LIMIT ?`,
    ),
    listHeads: p(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? AND n IN (
         SELECT min(n) FROM webhook_deliveries WHERE webhook_id = ? AND status = 'pending' GROUP BY store)
       ORDER BY n LIMIT ?`,
    ),
    countPending: p(
      `SELECT store, count(*) AS count FROM webhook_deliveries WHERE webhook_id = ? AND status = 'pending'
        GROUP BY store ORDER BY count DESC LIMIT ?`,
    ),
    nextPending: p(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
        WHERE webhook_id = ? AND store = ? AND status = 'pending' AND n > ? ORDER BY n LIMIT 1`,
    ),
    insert: p(
      `INSERT INTO webhooks (${STORED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    update: p(
      `UPDATE webhooks SET url = ?, event_kinds = ?, stores = ?, enabled = ?, updated_at = ?
        WHERE tenant_id = ? AND id = ?`,
    ),
    setSecret: p(
      `UPDATE webhooks SET secret_kek_id = ?, secret_key_len = ?, secret_ciphertext = ?, secret_version = ?,
        updated_at = ? WHERE tenant_id = ? AND id = ? RETURNING secret_key_slot`,
    ).pluck(),
    delete: p('DELETE FROM webhooks WHERE tenant_id = ? AND id = ?'),
    deleteLog: p('DELETE FROM webhook_deliveries WHERE webhook_id = ?'),
    claim: p(
      `UPDATE webhooks SET lease_owner = ?, lease_until = ?
        WHERE id = ? AND enabled = 1 AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)`,
    ),
    advance: p(
      `UPDATE webhooks SET feed_cursor = ?, last_delivery = last_delivery + ?
        WHERE id = ? AND lease_owner = ? AND feed_cursor = ? RETURNING last_delivery`,
    ).pluck(),
    insertDelivery: p(
      `INSERT INTO webhook_deliveries (${DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, NULL, NULL, ?, ?, ?)`,
    ),
    attempt: p(
      `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_error = ?, last_status = ?, next_attempt_at = ?,
        updated_at = ? WHERE webhook_id = ? AND n = ?`,
    ),
    prune: p(`DELETE FROM webhook_deliveries WHERE webhook_id = ? AND n <= ? AND status <> 'pending'`),
  };
  return {
    async getWebhook(tenantId: string, id: string): Promise<WebhookRecord | null> {
      const row = stmt.get.get(tenantId, id) as Row | undefined;
      return row ? toWebhook(row) : null;
    },
    async listWebhooks(tenantId: string): Promise<WebhookRecord[]> {
      return (stmt.list.all(tenantId) as Row[]).map(toWebhook);
    },
    async listActiveWebhooks(): Promise<WebhookRecord[]> {
      return (stmt.listActive.all() as Row[]).map(toWebhook);
    },
    async listWebhookDeliveries(webhookId, page): Promise<WebhookDeliveryRecord[]> {
      return (
        stmt.listDeliveries.all(webhookId, page.before ?? Number.MAX_SAFE_INTEGER, page.limit) as Row[]
      ).map(toWebhookDelivery);
    },
    async listPendingHeads(webhookId, limit): Promise<WebhookDeliveryRecord[]> {
      return (stmt.listHeads.all(webhookId, webhookId, limit) as Row[]).map(toWebhookDelivery);
    },
    async countPendingDeliveries(webhookId, limit): Promise<{ store: string; count: number }[]> {
      return stmt.countPending.all(webhookId, limit) as { store: string; count: number }[];
    },
    async nextPendingDelivery(webhookId, store, after): Promise<WebhookDeliveryRecord | null> {
      const row = stmt.nextPending.get(webhookId, store, after) as Row | undefined;
      return row ? toWebhookDelivery(row) : null;
    },
    async insertWebhook(w): Promise<void> {
      stmt.insert.run(
        w.id,
        w.tenantId,
        w.url,
        JSON.stringify(w.eventKinds),
        JSON.stringify(w.stores),
        w.enabled ? 1 : 0,
        w.secretKekId,
        keySlots.store(w.secretWrappedKey),
        w.secretWrappedKey.length,
        w.secretCiphertext,
        w.secretVersion,
        w.cursor,
        w.lastDelivery,
        w.createdAt,
        w.updatedAt,
      );
    },
    async updateWebhook(tenantId, id, patch): Promise<WebhookRecord | null> {
      const updated = stmt.update.run(
        patch.url,
        JSON.stringify(patch.eventKinds),
        JSON.stringify(patch.stores),
        patch.enabled ? 1 : 0,
        patch.updatedAt,
        tenantId,
        id,
      );
      if (updated.changes !== 1) return null;
      const row = stmt.get.get(tenantId, id) as Row | undefined;
      return row ? toWebhook(row) : null;
    },
    async setWebhookSecret(tenantId, id, s): Promise<boolean> {
      const slot = stmt.setSecret.get(
        s.kekId,
        s.wrappedKey.length,
        s.ciphertext,
        s.version,
        s.updatedAt,
        tenantId,
        id,
      ) as number | undefined;
      if (slot === undefined) return false;
      // The replaced key opens the old secret: overwritten in its slot, and scrubbed from the WAL.
      keySlots.overwrite(slot, s.wrappedKey);
      return true;
    },
    async deleteWebhook(tenantId, id): Promise<boolean> {
      if (stmt.get.get(tenantId, id) === undefined) return false;
      stmt.deleteLog.run(id);
      // A trigger zeroes the secret's key slot; the WAL that held it is scrubbed after COMMIT.
      const deleted = stmt.delete.run(tenantId, id).changes === 1;
      if (deleted) conn.sealedBytesRemoved = true;
      return deleted;
    },
    async claimWebhookLease(id, owner, now, until): Promise<boolean> {
      return stmt.claim.run(owner, until, id, owner, now).changes === 1;
    },
    async enqueueWebhookDeliveries(id, owner, cursor, deliveries, now): Promise<number | null> {
      const last = stmt.advance.get(cursor.to, deliveries.length, id, owner, cursor.from) as
        number | undefined;
      if (last === undefined) return null;
      let n = last - deliveries.length;
      for (const d of deliveries) {
        n += 1;
        stmt.insertDelivery.run(id, n, d.eventId, d.kind, d.store, d.payload, now, now, now);
      }
      return last;
    },
    async recordDeliveryAttempt(webhookId, n, o): Promise<void> {
      stmt.attempt.run(
        o.status,
        o.attempts,
        o.lastError,
        o.lastStatus,
        o.nextAttemptAt,
        o.updatedAt,
        webhookId,
        n,
      );
    },
    async pruneWebhookDeliveries(webhookId, upTo): Promise<void> {
      stmt.prune.run(webhookId, upTo);
    },
  };
}
