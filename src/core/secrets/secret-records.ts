import { sealValue } from '../../crypto/envelope.js';
import type { Keyring } from '../../crypto/keyring.js';
import { newId } from '../../crypto/tokens.js';
import type { RepositoryTx } from '../ports/repository.js';
import { type Actor, holdsPermission, requirePermission } from '../actor.js';
import { safeName } from '../audit-redaction.js';
import type { AuditEntry } from '../audit-trail.js';
import {
  ConflictError,
  InvalidError,
  NotFoundError,
  QuotaExceededError,
  SecretNotYetValidError,
} from '../errors.js';
import type { SecretRecord, ValidityWindow } from '../model.js';
import type { SecretRef, StoreTarget } from './store-ref.js';

/** How many versions of a secret are kept; older ones are destroyed with their data keys. */
export const VERSIONS_KEPT = 10;

/** The most versions a secret or store may be set to keep (`maxVersions`). */
export const MAX_VERSIONS_LIMIT = 1000;

/**
 * How many versions of a secret are kept, whichever facade writes it: its own `maxVersions`, else
 * its store's, else VERSIONS_KEPT (docs/adr/0014-vault-facade.md).
 */
export async function versionsKept(
  reads: Pick<RepositoryTx, 'getVersionSettings'>,
  secret: Pick<SecretRecord, 'id' | 'storeId'>,
): Promise<number> {
  const { secret: own, store } = await reads.getVersionSettings(secret.id, secret.storeId);
  if (own !== null && own.maxVersions > 0) return own.maxVersions;
  return store !== null && store.maxVersions > 0 ? store.maxVersions : VERSIONS_KEPT;
}

/** Most secrets one batch reveal may open (names asked for, or all of a store). */
export const MAX_REVEAL_BATCH = 1000;

export const NO_WINDOW: ValidityWindow = { notBefore: null, expiresOn: null };

/**
 * What the caller believed about the secret (HTTP `If-Match`/`If-None-Match`), checked inside the
 * write's own transaction so that no other write can slip in between the check and the change.
 * `version` 0 means "exists without a value yet".
 */
export type SecretPrecondition =
  | { readonly kind: 'exists' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'version'; readonly version: number };

/** What the secret operations need from the process: storage, keys, time, limits, the trail. */
export interface SecretLimits {
  /** Most secrets one tenant may hold across its stores (COFFER_SECRET_QUOTA). */
  readonly secretQuota: number;
  /** Most stores one tenant may hold (COFFER_STORE_LIMIT). */
  readonly storeLimit: number;
}

/** A secret as audit events name it, inside its store's resource. */
export function secretResource(store: string, secret: SecretRef): string {
  return 'id' in secret
    ? `${store}/secret-id:${safeName(secret.id)}`
    : `${store}/secret:${safeName(secret.name)}`;
}

/**
 * An operation's audit entry. The resource is read when the event is written, so a refusal after
 * the store was resolved names the store as resolved (`StoreTarget.resource`).
 */
export function entryOf(target: StoreTarget, action: string, secret?: SecretRef): AuditEntry {
  return {
    tenantId: target.tenantId,
    action,
    get resource() {
      return secret === undefined ? target.resource : secretResource(target.resource, secret);
    },
  };
}

export function secretNotFound(): NotFoundError {
  return new NotFoundError('secret_not_found', 'The secret does not exist.');
}

/**
 * Why a secret that has no usable value now is missing: "not valid yet" (with when) to a caller who
 * may know the secret exists (`secrets:read` on the tenant), else `fallback`. The one place this
 * trust rule lives: every facade and the CLI get it from here.
 */
export function missingValue(
  actor: Actor,
  tenantId: string,
  window: ValidityWindow | null,
  now: number,
  fallback: () => NotFoundError,
): NotFoundError {
  if (window !== null && window.notBefore !== null && now < window.notBefore) {
    if (holdsPermission(actor, tenantId, 'secrets:read')) return new SecretNotYetValidError(window.notBefore);
  }
  return fallback();
}

export function assertPrecondition(
  secret: SecretRecord | null,
  precondition: SecretPrecondition | undefined,
): void {
  if (precondition === undefined) return;
  const holds =
    precondition.kind === 'absent'
      ? secret === null
      : secret !== null &&
        (precondition.kind === 'exists' || (secret.currentVersion ?? 0) === precondition.version);
  if (!holds) {
    throw new ConflictError(
      'precondition_failed',
      precondition.kind === 'absent'
        ? 'The secret already exists.'
        : 'The secret does not exist or its version is not the one expected.',
    );
  }
}

export function sameWindow(a: ValidityWindow, b: ValidityWindow): boolean {
  return a.notBefore === b.notBefore && a.expiresOn === b.expiresOn;
}

/**
 * The validity window is metadata: an admin's "not before 2099" or "expired" must hold against a
 * key that may only set values. So changing an existing secret's window needs `secrets:write` on
 * every path, with or without a value (issue 13); restating the window it has is no change.
 */
export function requireWindowChangeAllowed(
  actor: Actor,
  tenantId: string,
  current: ValidityWindow,
  next: ValidityWindow,
): void {
  if (!sameWindow(current, next)) requirePermission(actor, tenantId, 'secrets:write');
}

export function assertWindow(window: ValidityWindow): void {
  if (window.notBefore !== null && window.expiresOn !== null && window.notBefore >= window.expiresOn) {
    throw InvalidError.field(
      'invalid_validity_window',
      'options.notBefore',
      'notBefore must be earlier than expiresOn.',
    );
  }
}

export async function assertQuota(
  tx: RepositoryTx,
  limits: SecretLimits,
  tenantId: string,
  adding: number,
): Promise<void> {
  const used = await tx.countSecretsInTenant(tenantId);
  if (used + adding > limits.secretQuota) {
    throw new QuotaExceededError(
      'secret_quota_exceeded',
      `The tenant's secret quota (${limits.secretQuota}) would be exceeded.`,
    );
  }
}

/** What a new secret starts with; anything absent starts empty (no value: no version yet). */
export interface NewSecretFields {
  readonly description?: string | null;
  readonly scopes?: readonly string[];
  readonly window?: ValidityWindow;
}

/** The one place a secret record is made. */
export function newSecretRecord(
  storeId: string,
  name: string,
  fields: NewSecretFields,
  now: number,
): SecretRecord {
  const window = fields.window ?? NO_WINDOW;
  return {
    id: newId(),
    storeId,
    name,
    description: fields.description ?? null,
    scopes: [...(fields.scopes ?? [])],
    notBefore: window.notBefore,
    expiresOn: window.expiresOn,
    currentVersion: null,
    latestVersion: 0,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * A change to one secret, applied by `writeSecret`. Absent fields keep their state. `window` is the
 * window the secret ends with (a new value always carries one; without a value it changes the
 * current version's). `value` is a string (wiped here once sealed) or a Buffer the caller wipes.
 */
export interface SecretChange {
  readonly description?: string | null;
  readonly scopes?: readonly string[];
  readonly window?: ValidityWindow;
  readonly value?: string | Buffer;
}

/**
 * The one write path of a secret that exists (just inserted or found), inside the caller's
 * transaction: metadata, then either a new value sealed as the current version together with the
 * window, or the window alone. Answers the secret as it now is.
 */
export async function writeSecret(
  tx: RepositoryTx,
  keyring: Keyring,
  tenantId: string,
  secret: SecretRecord,
  change: SecretChange,
  now: number,
): Promise<SecretRecord> {
  const description = change.description === undefined ? secret.description : change.description;
  const scopes = change.scopes === undefined ? secret.scopes : [...change.scopes];
  const metadata = change.description !== undefined || change.scopes !== undefined;
  if (metadata) await tx.updateSecretMetadata(secret.id, { description, scopes, updatedAt: now });
  const window = change.window ?? { notBefore: secret.notBefore, expiresOn: secret.expiresOn };
  let { currentVersion, latestVersion } = secret;
  if (change.value !== undefined) {
    currentVersion = await sealVersion(tx, keyring, tenantId, secret, change.value, window, now);
    latestVersion = currentVersion;
  } else if (change.window !== undefined && currentVersion !== null) {
    await tx.setCurrentVersion(secret.id, currentVersion, window, now);
  }
  const changed = metadata || change.value !== undefined || change.window !== undefined;
  return {
    ...secret,
    description,
    scopes,
    ...window,
    currentVersion,
    latestVersion,
    updatedAt: changed ? now : secret.updatedAt,
  };
}

/** The one sealing path: `value` as the secret's new current version, under a fresh data key. */
export async function sealVersion(
  tx: RepositoryTx,
  keyring: Keyring,
  tenantId: string,
  secret: SecretRecord,
  value: string | Buffer,
  window: ValidityWindow,
  now: number,
): Promise<number> {
  const plaintext = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  try {
    const version = await tx.allocateVersion(secret.id);
    const sealed = sealValue(
      keyring,
      { tenantId, storeId: secret.storeId, secretId: secret.id, version },
      plaintext,
    );
    const keep = await versionsKept(tx, secret);
    await tx.insertCurrentVersion({ secretId: secret.id, version, createdAt: now, ...sealed }, window, keep);
    return version;
  } finally {
    if (typeof value === 'string') plaintext.fill(0);
  }
}
