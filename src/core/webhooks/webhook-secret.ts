import { randomBytes } from 'node:crypto';
import { openValue, sealValue, type ValueOwner } from '../../crypto/envelope.js';
import type { Keyring } from '../../crypto/keyring.js';
import type { SealedValue } from '../model.js';

/** Random bytes in a signing secret (Standard Webhooks: 24 to 64). */
export const WEBHOOK_SECRET_BYTES = 32;
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** A new signing secret in the Standard Webhooks form: `whsec_` + base64 of the key bytes. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(WEBHOOK_SECRET_BYTES).toString('base64');
}

/**
 * Where a webhook's secret belongs, for the envelope's binding: the store slot holds `webhook`
 * (never a store id, which is 32 hex), so a sealed secret opens only as this webhook's, this version.
 */
function ownerOf(tenantId: string, webhookId: string, version: number): ValueOwner {
  return { tenantId, storeId: 'webhook', secretId: webhookId, version };
}

export function sealWebhookSecret(
  keyring: Keyring,
  tenantId: string,
  webhookId: string,
  version: number,
  secret: string,
): SealedValue {
  return sealValue(keyring, ownerOf(tenantId, webhookId, version), Buffer.from(secret, 'utf8'));
}

/** The signing key bytes (the base64 after `whsec_`); the caller zeroes them after use. */
export function openWebhookKey(
  keyring: Keyring,
  webhook: {
    tenantId: string;
    id: string;
    secretVersion: number;
    secretKekId: string;
    secretWrappedKey: Buffer;
    secretCiphertext: Buffer;
  },
): Buffer {
  const plain = openValue(keyring, ownerOf(webhook.tenantId, webhook.id, webhook.secretVersion), {
    kekId: webhook.secretKekId,
    wrappedKey: webhook.secretWrappedKey,
    ciphertext: webhook.secretCiphertext,
  });
  try {
    return Buffer.from(plain.toString('utf8').slice(WEBHOOK_SECRET_PREFIX.length), 'base64');
  } finally {
    plain.fill(0);
  }
}
