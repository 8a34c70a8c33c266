import type { Repository } from './ports/repository.js';
import { type Actor, requirePermission, requireStorePermission } from './actor.js';
import type { AuditTrail } from './audit-trail.js';
import { type Caller, callContextOf } from './call-context.js';
import type { ChangeFeed, FeedReader } from './change-feed.js';
import {
  type ChangeEvent,
  decodePosition,
  encodePosition,
  type FeedPosition,
  isKeyChange,
} from './change-events.js';
import type { Clock } from './clock.js';
import { InvalidError, RateLimitedError } from './errors.js';
import { type MetricsSink, NO_METRICS } from './metrics-sink.js';
import type { StoreRecord } from './model.js';
import { type StoreRef, StoreTarget, storeNotFound } from './secrets/store-ref.js';

/** Open change streams allowed at once (COFFER_WATCH_LIMIT_TENANT, COFFER_WATCH_LIMIT_KEY). */
export interface WatchLimits {
  readonly perTenant: number;
  readonly perKey: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = Object.freeze({ perTenant: 100, perKey: 10 });

/** How often an idle stream sends a heartbeat comment (COFFER_WATCH_HEARTBEAT_SECONDS). */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/** What a watcher asks for: a tenant's changes, or one store's, from a position or from now. */
export interface WatchRequest {
  /** Absent: every change of the tenant. */
  readonly store?: StoreRef;
  /** The opaque position of the last event seen (`Last-Event-ID`); absent or null: from now. */
  readonly after?: string | null;
}

/** An open watch: its reader (next changes, waiting for them) and what it watches. */
export interface Watch {
  readonly tenantId: string;
  readonly actor: Actor;
  /** The store watched, or null for the tenant. */
  readonly store: StoreRecord | null;
  readonly reader: FeedReader;
  /** The reader's position now, opaque (to send as an SSE id when nothing else moves it). */
  position(): string;
  /** Counts events sent to the subscriber (metrics: how many, how long after their commit). */
  sent(events: readonly ChangeEvent[]): void;
  /** Frees the watch's place in the limits; idempotent. */
  close(): void;
}

/** A batch's oldest commit time, found once for every subscriber sent the same batch (array). */
const oldestTimes = new WeakMap<readonly ChangeEvent[], number>();
function oldestOf(events: readonly ChangeEvent[]): number {
  let oldest = oldestTimes.get(events);
  if (oldest === undefined) {
    oldest = Number.POSITIVE_INFINITY;
    for (const e of events) if (e.time < oldest) oldest = e.time;
    oldestTimes.set(events, oldest);
  }
  return oldest;
}

function invalidPosition(): InvalidError {
  return InvalidError.field(
    'invalid_cursor',
    'Last-Event-ID',
    'The last event id is not one this server issued; reconnect without it, then resynchronise.',
  );
}

/**
 * Opening a change stream (docs/notifications.md): the read permission on what it watches
 * (`secrets:read`: a store's changes say no more than its list does), one `changes.watch` audit
 * event per subscription, and bounded streams per tenant and per key. Key changes go to admin keys
 * (`*`) only. What the stream then carries is read from the feed after the position.
 */
export class ChangeWatchService {
  readonly #deps: {
    readonly repository: Pick<Repository, 'getStoreById' | 'getStoreByName'>;
    readonly feed: ChangeFeed;
    readonly audit: AuditTrail;
    readonly limits: WatchLimits;
    readonly clock: Clock;
    readonly metrics: Pick<MetricsSink, 'changeSubscribers' | 'changeEventsSent'>;
  };
  /** Heartbeat period of the streams (ms). */
  readonly heartbeatMs: number;
  readonly #open = new Map<string, number>();

  constructor(deps: {
    repository: Pick<Repository, 'getStoreById' | 'getStoreByName'>;
    feed: ChangeFeed;
    audit: AuditTrail;
    clock: Clock;
    limits?: WatchLimits;
    heartbeatMs?: number;
    metrics?: Pick<MetricsSink, 'changeSubscribers' | 'changeEventsSent'>;
  }) {
    this.#deps = {
      repository: deps.repository,
      feed: deps.feed,
      audit: deps.audit,
      clock: deps.clock,
      limits: deps.limits ?? DEFAULT_WATCH_LIMITS,
      metrics: deps.metrics ?? NO_METRICS,
    };
    this.heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  async open(caller: Caller, tenantId: string, request: WatchRequest): Promise<Watch> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const target = request.store === undefined ? null : new StoreTarget(tenantId, request.store);
    const entry = {
      tenantId,
      action: 'changes.watch',
      get resource() {
        return target === null ? 'changes' : `${target.resource}/changes`;
      },
    };
    let from: FeedPosition | null = null;
    await this.#deps.audit.check(ctx, entry, () => {
      if (target === null) requirePermission(actor, tenantId, 'secrets:read');
      else requireStorePermission(actor, tenantId, 'secrets:read');
      if (request.after !== undefined && request.after !== null) {
        from = decodePosition(request.after);
        if (from === null) throw invalidPosition();
      }
    });
    const slots = this.#slotsOf(tenantId, actor);
    let taken = false;
    const { metrics, clock } = this.#deps;
    const release = () => {
      if (!taken) return;
      taken = false;
      metrics.changeSubscribers(-1);
      for (const slot of slots) {
        const left = (this.#open.get(slot) ?? 1) - 1;
        if (left <= 0) this.#open.delete(slot);
        else this.#open.set(slot, left);
      }
    };
    return this.#deps.audit.read(
      ctx,
      entry,
      async () => {
        const store = target === null ? null : await target.find(this.#deps.repository, actor);
        if (target !== null && store === null) throw storeNotFound();
        this.#take(slots);
        taken = true;
        metrics.changeSubscribers(1);
        const start = from ?? (await this.#deps.feed.head(tenantId));
        const admin = actor.kind === 'operator' || (actor.kind === 'api_key' && actor.grants.admin);
        const filter = (event: ChangeEvent) => {
          if (isKeyChange(event.kind)) return store === null && admin;
          if (store === null) return true;
          const s = event.store;
          if (s === null) return false;
          return s.id !== null ? s.id === store.id : s.name === store.name;
        };
        // Watches with one key filter alike: a batch is filtered once for all of them.
        const filterKey =
          store === null ? (admin ? 'tenant+keys' : 'tenant') : `store ${store.id} ${store.name}`;
        const reader = this.#deps.feed.reader(tenantId, start, filter, filterKey);
        return {
          tenantId,
          actor,
          store,
          reader,
          position: () => encodePosition(reader.position),
          sent: (events) => {
            if (events.length === 0) return;
            // The batch's oldest event (its worst lag): one observation per batch, not per event,
            // which cost about 30 µs of each write with 100 subscribers (BENCHMARKS.md).
            metrics.changeEventsSent(events.length, (clock.now() - oldestOf(events)) / 1000);
          },
          close: () => {
            reader.close();
            release();
          },
        };
      },
      (unrecorded) => unrecorded.close(),
    );
  }

  #slotsOf(tenantId: string, actor: Actor): string[] {
    const key =
      actor.kind === 'api_key'
        ? `k:${tenantId}/${actor.keyName}`
        : actor.kind === 'service'
          ? `s:${actor.serviceName}`
          : 'o:';
    return [`t:${tenantId}`, key];
  }

  #take(slots: readonly string[]): void {
    const [tenantSlot, keySlot] = slots;
    const { perTenant, perKey } = this.#deps.limits;
    const tenantOpen = this.#open.get(tenantSlot ?? '') ?? 0;
    const keyOpen = this.#open.get(keySlot ?? '') ?? 0;
    if ((perTenant > 0 && tenantOpen >= perTenant) || (perKey > 0 && keyOpen >= perKey)) {
      throw new RateLimitedError('too_many_watchers', 5);
    }
    for (const slot of slots) this.#open.set(slot, (this.#open.get(slot) ?? 0) + 1);
  }
}
