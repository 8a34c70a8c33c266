import { safeName } from './audit-redaction.js';
import type { AuditEventRecord } from './model.js';

/**
 * Change events: what the change feed (src/core/change-feed.ts) derives from allowed audit events of
 * changes (docs/notifications.md, ADR 0016). Names, ids, versions and times; never a value.
 */
export const CHANGE_KINDS = [
  'secret.created',
  'secret.value-set',
  'secret.metadata-changed',
  'secret.deleted',
  'store.created',
  'store.deleted',
  'apikey.created',
  'apikey.changed',
  'apikey.deleted',
] as const;

export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Key changes: sent to admin subscribers only. */
export function isKeyChange(kind: ChangeKind): boolean {
  return kind.startsWith('apikey.');
}

/** An object named by id and name; either may be unknown (null) in events written before ADR 0016. */
export interface NamedRef {
  readonly id: string | null;
  readonly name: string | null;
}

export interface ChangeEvent {
  /** The feed position just after this event: the SSE event id, a webhook cursor (opaque). */
  readonly id: string;
  readonly kind: ChangeKind;
  readonly tenantId: string;
  /** Epoch ms: when its audit event was appended (the change's commit). */
  readonly time: number;
  /** Who made it, as the audit trail names it (`key:<name>`, `service:<name>`, `operator`). */
  readonly actor: string;
  /** Null for key changes. */
  readonly store: NamedRef | null;
  /** Null for store and key changes. */
  readonly secret: NamedRef | null;
  /** The version a `secret.value-set` made current; null for every other kind (or unknown). */
  readonly version: number | null;
  /** The key's name, for key changes; else null. */
  readonly apiKey: string | null;
  /** The audit event it comes from: its chain and seq. */
  readonly chain: string;
  readonly seq: number;
}

// ---------------------------------------------------------------------------------------------
// Positions: per chain of the tenant, the last seq seen.
// ---------------------------------------------------------------------------------------------

/**
 * Where a reader of a tenant's changes stands: for each audit chain of the tenant, the seq of the last
 * event it has seen (0: none). A chain absent from a position has been seen up to 0 (a chain that came
 * into being after the position was taken is read from its start).
 */
export type FeedPosition = ReadonlyMap<string, number>;

const POSITION_PREFIX = 'c1.';
const MAX_POSITION_TEXT = 12_288;

/**
 * The opaque text form of a position (the SSE event id, `Last-Event-ID`): `c1.` + base64url of the
 * JSON array `[[chain, seq], …]` sorted by chain. Not secret and not signed: a forged one can only
 * choose where in the tenant's own feed to resume.
 */
export function encodePosition(position: FeedPosition): string {
  const pairs = [...position.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return POSITION_PREFIX + Buffer.from(JSON.stringify(pairs), 'utf8').toString('base64url');
}

/**
 * `encodePosition` of a position that is never changed afterwards (a read's `position`, shared by
 * every reader woken with it), made once per position object: 100 streams of a tenant that read
 * together stand at one such object, and each read names its position.
 */
const positionTexts = new WeakMap<FeedPosition, string>();
export function positionText(position: FeedPosition): string {
  let text = positionTexts.get(position);
  if (text === undefined) {
    text = encodePosition(position);
    positionTexts.set(position, text);
  }
  return text;
}

/** The position a text names, or null when it is not one (the caller answers 400 invalid_cursor). */
export function decodePosition(text: string): FeedPosition | null {
  if (text.length > MAX_POSITION_TEXT || !text.startsWith(POSITION_PREFIX)) return null;
  const body = text.slice(POSITION_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  const position = new Map<string, number>();
  for (const pair of parsed as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) return null;
    const [chain, seq] = pair as unknown[];
    if (typeof chain !== 'string' || typeof seq !== 'number') return null;
    if (!Number.isSafeInteger(seq) || seq < 0 || position.has(chain)) return null;
    position.set(chain, seq);
  }
  return position;
}

// ---------------------------------------------------------------------------------------------
// The resource detail: what an allowed change's audit event says about the objects it changed.
// ---------------------------------------------------------------------------------------------

/**
 * What a change touched, exactly (ids, names, version), whatever the caller addressed it by. The audit
 * trail appends it to the resource of an allowed change's event as `#key=value&…` (docs/audit.md,
 * "Resource detail"): names and ids never contain `#`, `&` or `=`, so the resource as addressed stays
 * the prefix it always was.
 */
export interface ChangeDetail {
  readonly storeId?: string;
  readonly storeName?: string;
  readonly secretId?: string;
  readonly secretName?: string;
  readonly version?: number;
  /** A `store.ensure` (or any store write) that did create the store. */
  readonly created?: boolean;
}

const DETAIL_KEYS = [
  ['storeId', 'store-id'],
  ['storeName', 'store'],
  ['secretId', 'secret-id'],
  ['secretName', 'secret'],
] as const;

/** The detail's name fields by their key in a resource (`splitResource`). */
const FIELD_OF_KEY: ReadonlyMap<string, (typeof DETAIL_KEYS)[number][0]> = new Map(
  DETAIL_KEYS.map(([field, key]) => [key, field]),
);

export function renderDetail(detail: ChangeDetail): string {
  const parts: string[] = [];
  for (const [field, key] of DETAIL_KEYS) {
    const value = detail[field];
    // Stored names passed their pattern; a token-shaped one is still never written (audit-redaction).
    if (value !== undefined) parts.push(`${key}=${safeName(value)}`);
  }
  if (detail.version !== undefined) parts.push(`version=${detail.version}`);
  if (detail.created === true) parts.push('created=1');
  return parts.length === 0 ? '' : `#${parts.join('&')}`;
}

/** The resource as addressed and its detail (empty when the event has none). */
export function splitResource(resource: string): { addressed: string; detail: ChangeDetail } {
  const hash = resource.indexOf('#');
  if (hash < 0) return { addressed: resource, detail: {} };
  const detail: {
    storeId?: string;
    storeName?: string;
    secretId?: string;
    secretName?: string;
    version?: number;
    created?: boolean;
  } = {};
  // A loop over the parts, not split/find with a closure per part: this runs once for every committed
  // change of a watched tenant (the change feed decodes each one as it commits).
  let start = hash + 1;
  // The first '=' at or after `start`, searched again only once a part has passed it (linear in the
  // resource's length however many parts have no '=').
  let eq = resource.indexOf('=', start);
  while (start <= resource.length) {
    let end = resource.indexOf('&', start);
    if (end < 0) end = resource.length;
    if (eq >= 0 && eq < start) eq = resource.indexOf('=', start);
    if (eq >= 0 && eq < end) {
      const key = resource.slice(start, eq);
      const value = resource.slice(eq + 1, end);
      const field = FIELD_OF_KEY.get(key);
      if (field !== undefined) detail[field] = value;
      else if (key === 'version' && /^[0-9]{1,15}$/.test(value)) detail.version = Number(value);
      else if (key === 'created') detail.created = value === '1';
    }
    start = end + 1;
  }
  return { addressed: resource.slice(0, hash), detail };
}

/**
 * The addressed resource's store and secret, for events without a detail (written before ADR 0016):
 * `store:<name>` / `store-id:<id>`, then `/secret:<name>` / `/secret-id:<id>` (secret names have no
 * `/`, so the last segment is the secret's, and the rest the store's, whose names may hold `/`).
 */
function addressedParts(addressed: string): { store: NamedRef | null; secret: NamedRef | null } {
  let rest = addressed;
  let secret: NamedRef | null = null;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const last = rest.slice(slash + 1);
    if (last.startsWith('secret:')) secret = { id: null, name: last.slice('secret:'.length) };
    else if (last.startsWith('secret-id:')) secret = { id: last.slice('secret-id:'.length), name: null };
    else if (last.startsWith('store-id:')) {
      // `store.create`'s resource: `store:<name>/store-id:<id>`.
      const name = rest.slice(0, slash);
      const id = last.slice('store-id:'.length);
      return {
        store: { id, name: name.startsWith('store:') ? name.slice('store:'.length) : null },
        secret: null,
      };
    }
    if (secret !== null) rest = rest.slice(0, slash);
  }
  const store: NamedRef | null = rest.startsWith('store:')
    ? { id: null, name: rest.slice('store:'.length) }
    : rest.startsWith('store-id:')
      ? { id: rest.slice('store-id:'.length), name: null }
      : null;
  return { store, secret };
}

const KIND_OF_ACTION: ReadonlyMap<string, ChangeKind> = new Map<string, ChangeKind>([
  ['secret.create', 'secret.created'],
  ['secret.set-value', 'secret.value-set'],
  ['secret.update', 'secret.metadata-changed'],
  ['secret.delete', 'secret.deleted'],
  ['store.create', 'store.created'],
  ['store.ensure', 'store.created'],
  ['store.delete', 'store.deleted'],
  ['apikey.create', 'apikey.created'],
  ['apikey.update', 'apikey.changed'],
  ['apikey.delete', 'apikey.deleted'],
]);

/**
 * The change an audit event records, or null when it records none: reads, refusals and failures,
 * events of a key that addressed another tenant (`tenant:…/`), a `store.ensure` that found its
 * store, a `secret.duplicate` (its copy has a `secret.create` of its own). `id` is the position after
 * the event, which only the reader knows.
 */
export function changeOf(event: AuditEventRecord, id: string): ChangeEvent | null {
  if (event.outcome !== 'allowed') return null;
  const kind = KIND_OF_ACTION.get(event.action);
  if (kind === undefined) return null;
  const { addressed, detail } = splitResource(event.resource);
  if (addressed.startsWith('tenant:')) return null;
  if (event.action === 'store.ensure' && detail.created !== true) return null;
  if (isKeyChange(kind)) {
    const name = addressed.startsWith('apikey:') ? addressed.slice('apikey:'.length) : null;
    return changeEvent(id, kind, event, null, null, null, name);
  }
  const parts = addressedParts(addressed);
  const store: NamedRef | null =
    detail.storeId !== undefined || detail.storeName !== undefined
      ? { id: detail.storeId ?? parts.store?.id ?? null, name: detail.storeName ?? parts.store?.name ?? null }
      : parts.store;
  const isSecret = kind.startsWith('secret.');
  const secret: NamedRef | null = !isSecret
    ? null
    : detail.secretId !== undefined || detail.secretName !== undefined
      ? {
          id: detail.secretId ?? parts.secret?.id ?? null,
          name: detail.secretName ?? parts.secret?.name ?? null,
        }
      : parts.secret;
  if (isSecret && secret === null) return null;
  const version = kind === 'secret.value-set' ? (detail.version ?? null) : null;
  return changeEvent(id, kind, event, store, secret, version, null);
}

/**
 * A change event, every field written out in one order: a literal, not a spread of another object
 * (V8 builds a spread object field by field, about 5 µs a change; the feed makes one per change and
 * reader position).
 */
function changeEvent(
  id: string,
  kind: ChangeKind,
  event: Pick<AuditEventRecord, 'tenantId' | 'time' | 'actor' | 'chainId' | 'seq'>,
  store: NamedRef | null,
  secret: NamedRef | null,
  version: number | null,
  apiKey: string | null,
): ChangeEvent {
  return {
    id,
    kind,
    tenantId: event.tenantId,
    time: event.time,
    actor: event.actor,
    chain: event.chainId,
    seq: event.seq,
    store,
    secret,
    version,
    apiKey,
  };
}

/** The same change, with another id (the position after it, as another reader counts it). */
export function withId(change: ChangeEvent, id: string): ChangeEvent {
  return {
    id,
    kind: change.kind,
    tenantId: change.tenantId,
    time: change.time,
    actor: change.actor,
    chain: change.chain,
    seq: change.seq,
    store: change.store,
    secret: change.secret,
    version: change.version,
    apiKey: change.apiKey,
  };
}

/**
 * Whether an audit event may record a change (an engine announces those to other nodes): allowed, of
 * a change action. Cheap, on the write path; `changeOf` decides exactly.
 */
export function mayRecordChange(event: Pick<AuditEventRecord, 'action' | 'outcome'>): boolean {
  return event.outcome === 'allowed' && KIND_OF_ACTION.has(event.action);
}
