import { randomUUID } from 'node:crypto';
import { type ChangeFeed, FEED_READ_LIMIT, type FeedBatch } from '../core/change-feed.js';
import { type ChangeEvent, decodePosition, type FeedPosition, positionText } from '../core/change-events.js';
import type { Clock } from '../core/clock.js';
import type { Repository, RepositoryTx } from '../core/ports/repository.js';
import { deliveryOf, orderKeyOf, webhookWants } from '../core/webhooks/webhook-events.js';
import type {
  NewWebhookDelivery,
  WebhookDeliveryRecord,
  WebhookRecord,
} from '../core/webhooks/webhook-records.js';
import { openWebhookKey } from '../core/webhooks/webhook-secret.js';
import type { Keyring } from '../crypto/keyring.js';
import { ReceiverConnections, sendWebhook, signWebhook, type SendOutcome } from './webhook-sender.js';

/** What the dispatcher reports (coffer_webhook_*; src/metrics/prometheus-metrics.ts). */
export interface WebhookMetrics {
  /** One attempt's outcome: `delivered`, `retry` (failed, will be tried again) or `failed` (given up). */
  webhookAttempt(outcome: 'delivered' | 'retry' | 'failed'): void;
  /** Seconds from the change's commit to its successful delivery. */
  webhookLag(seconds: number): void;
}

export const NO_WEBHOOK_METRICS: WebhookMetrics = Object.freeze({
  webhookAttempt: () => undefined,
  webhookLag: () => undefined,
});

export interface DispatcherOptions {
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  /** How long an event is retried after it entered the log, before it is marked failed. */
  readonly retryMs: number;
  /** The first retry's delay bound (full jitter: a random delay up to base × 2^(attempt-1), capped). */
  readonly backoffMs: number;
  readonly leaseMs: number;
  /** Attempts in flight at once on this node, all webhooks together. */
  readonly concurrency?: number;
  /** How often the webhooks are looked at when nothing wakes the dispatcher. */
  readonly pollMs?: number;
  /** The product and version, for User-Agent. */
  readonly userAgent: string;
}

/** Feed reads of one pass, by tenant and position. */
type FeedReads = Map<string, Promise<{ batch: FeedBatch; events: ChangeEvent[] }>>;

/** The longest backoff between two attempts. */
const MAX_BACKOFF_MS = 60 * 60 * 1000;
/** Stores attempted per webhook and pass (their heads held in memory): bounded whatever the backlog. */
const MAX_STORES_PER_PASS = 200;
/** How often the pending heads are read from the log again (a safety net; the lease holder alone writes it). */
const HEADS_RELOAD_MS = 30_000;
/** Feed reads per pass, per webhook, before deliveries get their turn. */
const FEED_READS_PER_PASS = 4;
/**
 * Pending entries a store may have in a webhook's log: the worker copies the feed up to the first
 * change of a store that has this many, and the changes from there on wait in the feed (the cursor
 * before them; the feed is as durable as the log) until that store is down to half of it. A webhook
 * that lags behind a stream of writes then writes rows at the pace it delivers, not at the pace of
 * the writes. The worker reads on past the changes held back: a change of a store with room (at most
 * ROOM_AGAIN_AT pending) has everything before it copied at once (#copyTo), so a lagging store never
 * holds up another one.
 */
export const LOG_LEAD_PER_STORE = 100;
/**
 * A store at the bound gets room again once it is down to this many pending entries: its changes are
 * then copied in chunks, not one row (and one read at the cursor) per delivery. Until then, a change
 * of that store further along the feed is no reason to copy everything before it (#scanAhead).
 */
const ROOM_AGAIN_AT = LOG_LEAD_PER_STORE / 2;
/** Stores whose pending entries are counted when the log is read (the most loaded first). */
const MAX_COUNTED_STORES = 1000;
/**
 * The shortest pause between two passes while there is work: the dispatcher shares the process (and
 * the SQLite writer) with the requests, so under a stream of writes it works in bursts instead of a
 * busy loop; deliveries then lag behind a burst of writes, and the writes keep their pace.
 */
const MIN_PASS_INTERVAL_MS = 50;
/**
 * While the event loop has room (it was busy less than CHAIN_WHEN_BUSY_BELOW of the time since the
 * last pass), a store's delivered entry is followed by its next one in the same pass, up to
 * CHAIN_PER_STORE entries and for no longer than CHAIN_MS: a burst of changes to one store goes out
 * as fast as the receiver answers, instead of one entry per store and pass (20 a second). Under load
 * a pass attempts one entry per store, as before, and the writes keep the event loop.
 */
const CHAIN_PER_STORE = 20;
const CHAIN_MS = 250;
const CHAIN_WHEN_BUSY_BELOW = 0.75;
/**
 * Writes come first: while writes are in progress (Repository.writerBusy: SQLite's group commit is
 * building, committing or scrubbing a batch; a PostgreSQL transaction of this node in flight), a pass
 * starts no more often than this, delivers one entry per store, and looks ahead past a held-back
 * store with one feed read (#scanAhead) instead of FEED_READS_PER_PASS; a pass that began in a quiet
 * moment does so from the moment writes begin (#yielding), and once writes began the writer counts
 * as busy while it was at most of the worker's looks since (#writesInProgress). The worker shares
 * the process with the commit pipeline, whose WAL checkpoint runs on a thread of its own:
 * every millisecond of the event loop's time the worker takes then is CPU that thread waits for on
 * a busy core, and each commit (the whole pipeline) waits with it. Measured with 10 webhooks on one
 * core: writes 22-27% slower at a pass every 50 ms, 4-8% at one a second, 0-4% with the look-ahead's
 * single read (BENCHMARKS.md, a fast day); on a slow day, 13.9% with the pass's start alone looking,
 * 4.8% with each read and chained entry looking (ADR 0017 addendum). So under a sustained stream of
 * writes webhooks lag (they catch up when it eases, from the feed: nothing is lost), and the writes
 * keep their pace.
 */
export const PRESSURE_PASS_MS = 1_000;
/** The most looks at the writer kept (#writesInProgress): about 20 a second are taken under writes. */
const MAX_LOOKS = 256;
/** Looks since writes began before idle ones may say they eased (#writesInProgress). */
const MIN_LOOKS_TO_EASE = 3;
/** Finished log entries kept per webhook (older ones are pruned). */
export const DELIVERY_LOG_KEEP = 1000;

/**
 * Delivers webhooks, one instance per node, entirely off the request path. For each enabled webhook
 * whose lease this node holds (a row claim in the database, so one node delivers a webhook at a
 * time): copies the change feed after the webhook's cursor into its delivery log (the entries and the
 * new cursor in one transaction: a restart resumes from the log, nothing is lost; no further than
 * LOG_LEAD_PER_STORE pending entries per store, the rest waiting in the feed), then attempts the
 * oldest pending entry of each store (in order per store; while the event loop has room, then the
 * next ones of a store whose entry was delivered: CHAIN_PER_STORE), and records each attempt: delivered, a
 * retry after a backoff with full jitter, or failed once the retry window is over. At least once: a
 * delivery whose result was not recorded (a crash) is sent again.
 */
export class WebhookDispatcher {
  readonly #repository: Repository;
  readonly #keyring: Keyring;
  readonly #feed: ChangeFeed;
  readonly #clock: Clock;
  readonly #options: DispatcherOptions;
  readonly #metrics: WebhookMetrics;
  readonly #onError: (error: unknown) => void;
  readonly #owner = randomUUID();
  /** Webhooks with a pass running here. */
  readonly #busy = new Set<string>();
  /** Lease expiry per webhook, as this node last set it. */
  readonly #leases = new Map<string, number>();
  readonly #watching = new Map<string, () => void>();
  readonly #running = new Set<Promise<void>>();
  /** Per webhook held here: the log's pending entries, as far as the worker needs them (see #logOf). */
  readonly #logs = new Map<string, PendingLog>();
  /** Webhooks whose last feed read stopped before the end (more to read at once). */
  readonly #behind = new Set<string>();
  /**
   * Webhooks whose read at the cursor found only changes of stores with LOG_LEAD_PER_STORE pending
   * entries: that read is done again only once one of those stores finishes an entry.
   */
  readonly #heldBack = new Set<string>();
  /**
   * Per held-back webhook: how far past its cursor the feed has been looked through without finding
   * a change of a store with room (so each pass looks only at what is new), and the stores of the
   * changes found there (none with room then: while none has, no need to look again).
   */
  readonly #scanned = new Map<string, { cursor: string; position: string; stores: Set<string> }>();
  /**
   * Per webhook: a change of a store with room lies before this position, past changes held
   * back: everything up to it is copied, whatever the bound, so that store is not held up.
   */
  readonly #copyTo = new Map<string, FeedPosition>();
  #inFlight = 0;
  readonly #slotWaiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | null = null;
  #ticking = false;
  #again = false;
  #lastTick = 0;
  #timerAt = 0;
  /** Tenants whose feed may have grown since their webhooks last read it. */
  readonly #dirty = new Set<string>();
  /** When every webhook last read the feed regardless of wake-ups (a missed wake-up costs one poll). */
  #lastFullRead = 0;
  #closed = false;
  /** Kept-alive connections to receivers, reused only for the same checked address. */
  readonly #connections = new ReceiverConnections();
  /** The event loop's utilisation counters at the last tick's look (`#chainLength`). */
  #loopAt = performance.eventLoopUtilization();
  /** Entries of one store a pass of this tick may deliver in a row. */
  #chain = 1;
  /**
   * Whether this tick yields to writes (PRESSURE_PASS_MS): they were in progress when it began, or
   * began during its pass (#yielding).
   */
  #pressed = false;
  /** This worker's own transactions in flight: they are no writes to yield to (#yielding). */
  #ownWrites = 0;
  /** The worker's looks at the writer in the last PRESSURE_PASS_MS, oldest first (#writesInProgress). */
  readonly #looks: { at: number; busy: boolean }[] = [];
  /** What the last look at the writer concluded (#writesInProgress). */
  #underWrites = false;
  /** When the look that found writes beginning was taken (#writesInProgress). */
  #writesSince = 0;
  /** A tick deferred for the writes looks again no sooner than this (see wake). */
  #deferredUntil = 0;

  constructor(deps: {
    repository: Repository;
    keyring: Keyring;
    feed: ChangeFeed;
    clock: Clock;
    options: DispatcherOptions;
    metrics?: WebhookMetrics;
    onError?: (error: unknown) => void;
  }) {
    this.#repository = deps.repository;
    this.#keyring = deps.keyring;
    this.#feed = deps.feed;
    this.#clock = deps.clock;
    this.#options = deps.options;
    this.#metrics = deps.metrics ?? NO_WEBHOOK_METRICS;
    this.#onError = deps.onError ?? (() => undefined);
  }

  start(): void {
    this.#schedule(0);
  }

  /** Runs a pass soon (a commit of a watched tenant, or a delivery finished). */
  wake(tenantId?: string): void {
    if (this.#closed) return;
    if (tenantId !== undefined) this.#dirty.add(tenantId);
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    // Not before a tick deferred for the writes (PRESSURE_PASS_MS) looks again: a commit's wake-up
    // would otherwise make it look at every commit.
    const at = Math.max(Date.now(), this.#lastTick + MIN_PASS_INTERVAL_MS, this.#deferredUntil);
    if (this.#timer === null || at < this.#timerAt) this.#schedule(at - Date.now());
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = Date.now() + ms;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tick();
    }, ms);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    // Writes first (PRESSURE_PASS_MS): looked at again after the shortest pause, until they ease.
    const pressed = this.#writesInProgress();
    if (pressed && Date.now() - this.#lastTick < PRESSURE_PASS_MS) {
      this.#deferredUntil = Date.now() + MIN_PASS_INTERVAL_MS;
      this.#schedule(MIN_PASS_INTERVAL_MS);
      return;
    }
    // For the whole pass, unless writes begin during it (#yielding).
    this.#pressed = pressed;
    this.#ticking = true;
    this.#again = false;
    this.#lastTick = Date.now();
    const pollMs = this.#options.pollMs ?? 1_000;
    let nextIn = pollMs;
    const readAll = this.#lastTick - this.#lastFullRead >= pollMs;
    if (readAll) this.#lastFullRead = this.#lastTick;
    const dirty = new Set(this.#dirty);
    this.#dirty.clear();
    this.#chain = this.#chainLength();
    if (pressed) this.#chain = 1;
    try {
      const webhooks = await this.#repository.listActiveWebhooks();
      // One feed read per tenant and position in a pass, shared by the webhooks standing there.
      const reads: FeedReads = new Map();
      this.#watchTenants(new Set(webhooks.map((w) => w.tenantId)));
      const active = new Set(webhooks.map((w) => w.id));
      for (const id of [...this.#logs.keys()]) if (!active.has(id)) this.#logs.delete(id);
      for (const id of [...this.#leases.keys()]) if (!active.has(id)) this.#leases.delete(id);
      for (const set of [this.#heldBack, this.#behind]) {
        for (const id of [...set]) if (!active.has(id)) set.delete(id);
      }
      for (const map of [this.#scanned, this.#copyTo]) {
        for (const id of [...map.keys()]) if (!active.has(id)) map.delete(id);
      }
      for (const webhook of webhooks) {
        if (this.#busy.has(webhook.id)) continue;
        this.#busy.add(webhook.id);
        const read = readAll || dirty.has(webhook.tenantId) || this.#behind.has(webhook.id);
        const pass = this.#pass(webhook, read, reads)
          .then((due) => {
            if (due !== null) nextIn = Math.min(nextIn, Math.max(0, due - this.#clock.now()));
            if (due !== null && due <= this.#clock.now()) this.#again = true;
          })
          .catch((error: unknown) => this.#onError(error))
          .finally(() => {
            this.#busy.delete(webhook.id);
            this.#running.delete(pass);
          });
        this.#running.add(pass);
      }
      await Promise.all([...this.#running]);
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#ticking = false;
    }
    this.#schedule(this.#again ? MIN_PASS_INTERVAL_MS : Math.max(nextIn, MIN_PASS_INTERVAL_MS));
  }

  #watchTenants(tenants: Set<string>): void {
    for (const [tenant, stop] of this.#watching) {
      if (!tenants.has(tenant)) {
        stop();
        this.#watching.delete(tenant);
      }
    }
    for (const tenant of tenants) {
      if (!this.#watching.has(tenant))
        this.#watching.set(
          tenant,
          this.#feed.watchTenant(tenant, () => this.wake(tenant)),
        );
    }
  }

  /**
   * Whether the pass yields to writes from now on: writes were in progress when its tick began, or
   * began since (a pass that started in a quiet moment does not go on at its usual pace through a
   * burst of writes that began under it). While the worker has a transaction of its own in flight,
   * a busy writer may be that transaction alone: then only the looks taken before count.
   */
  #yielding(): boolean {
    if (!this.#pressed && this.#ownWrites === 0 && this.#writesInProgress()) this.#pressed = true;
    return this.#pressed;
  }

  /**
   * Whether writes are in progress. A busy look says yes at once (a burst has begun); once it has,
   * an idle look says no only when the writer was idle at half or more of the worker's looks since
   * then (of the last PRESSURE_PASS_MS, and at least MIN_LOOKS_TO_EASE of them). `writerBusy` is a
   * look at one instant, and a stream of writes has instants between two batches (SQLite's drain
   * ends while its callers wait for their sync): a tick that met one ran a full pass in the middle of
   * the stream. A majority, not any busy look of the last second, so that a writer busy now and then
   * (a few writes a second, audited reads) costs the worker a pause of a few MIN_PASS_INTERVAL_MS,
   * not a pass a second. (Its own transactions are not looked at: while one is in flight, the answer
   * stands as the last look left it.)
   */
  #writesInProgress(): boolean {
    if (this.#ownWrites > 0) return this.#underWrites;
    const now = performance.now();
    const looks = this.#looks;
    while (looks.length > 0 && (now - (looks[0]?.at ?? now) >= PRESSURE_PASS_MS || looks.length >= MAX_LOOKS))
      looks.shift();
    const busy = this.#repository.writerBusy();
    looks.push({ at: now, busy });
    if (busy) {
      if (!this.#underWrites) this.#writesSince = now;
      this.#underWrites = true;
    } else if (this.#underWrites) {
      let seen = 0;
      let busyLooks = 0;
      for (const look of looks) {
        if (look.at < this.#writesSince) continue;
        seen++;
        if (look.busy) busyLooks++;
      }
      if (seen >= MIN_LOOKS_TO_EASE && busyLooks * 2 <= seen) this.#underWrites = false;
    }
    return this.#underWrites;
  }

  /** A transaction of the worker (counted, so that #yielding does not take it for the requests'). */
  async #write<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    this.#ownWrites++;
    try {
      return await this.#repository.transaction(fn);
    } finally {
      this.#ownWrites--;
    }
  }

  /** Holds the webhook's lease, renewing it when half of it is gone; false when another node holds it. */
  async #lease(id: string): Promise<boolean> {
    const now = this.#clock.now();
    const until = this.#leases.get(id);
    if (until !== undefined && until - now > this.#options.leaseMs / 2) return true;
    const next = now + this.#options.leaseMs;
    const held = await this.#write((tx) => tx.claimWebhookLease(id, this.#owner, now, next));
    // Taken anew (not renewed): another node may have changed the log meanwhile, so read it again.
    if (until === undefined || until <= now || !held) {
      this.#logs.delete(id);
      this.#heldBack.delete(id);
      this.#scanned.delete(id);
    }
    if (held) this.#leases.set(id, next);
    else this.#leases.delete(id);
    return held;
  }

  /** One pass over one webhook; answers when its next attempt is due (null: nothing pending). */
  async #pass(webhook: WebhookRecord, read: boolean, reads: FeedReads): Promise<number | null> {
    if (!(await this.#lease(webhook.id))) return null;
    if (read && !(await this.#enqueue(webhook, reads))) return null;
    return this.#deliverDue(webhook);
  }

  /**
   * One read of the feed per tenant, position and limit in a pass, shared by the webhooks standing
   * there. `limit` bounds the audit events scanned per chain (FEED_READ_LIMIT unless told).
   */
  #sharedRead(
    tenantId: string,
    position: string,
    reads: FeedReads,
    limit = FEED_READ_LIMIT,
  ): Promise<{ batch: FeedBatch; events: ChangeEvent[] }> {
    const key = `${tenantId}\n${limit}\n${position}`;
    let shared = reads.get(key);
    if (shared === undefined) {
      shared = this.#readFeed(tenantId, position, limit);
      reads.set(key, shared);
    }
    return shared;
  }

  /** Copies new changes the webhook wants into its log, moving its cursor with them. */
  async #enqueue(webhook: WebhookRecord, reads: FeedReads): Promise<boolean> {
    const log = await this.#logOf(webhook.id);
    let cursor = webhook.cursor;
    const scanned = this.#scanned.get(webhook.id);
    if (this.#heldBack.has(webhook.id) && scanned?.cursor === cursor) {
      // Nothing changed at the cursor: look only at what is new past the changes held back.
      return this.#scanAhead(webhook, log, cursor, scanned.position, scanned.stores, reads);
    }
    this.#scanned.delete(webhook.id);
    this.#heldBack.delete(webhook.id);
    // Four reads a pass under writes too: a webhook whose stores are quiet moves its cursor past
    // the other stores' changes only here, and fewer reads would leave it behind a busy tenant.
    for (let read = 0; read < FEED_READS_PER_PASS; read++) {
      const target = this.#copyTo.get(webhook.id);
      const forced = target !== undefined && !covers(decodePosition(cursor), target);
      // A copy that the bound may cut short reads no further than the bound could let it copy.
      const limit = forced ? FEED_READ_LIMIT : LOG_LEAD_PER_STORE;
      const { batch, events } = await this.#sharedRead(webhook.tenantId, cursor, reads, limit);
      const end = positionText(batch.position);
      if (batch.resync) {
        this.#onError(
          new Error(`webhook ${webhook.id}: changes were pruned from the audit trail before delivery`),
        );
      }
      // Up to the first change of a store that has LOG_LEAD_PER_STORE pending entries, counting
      // those being copied (the rest waits in the feed); all of it while copying up to #copyTo.
      const taken =
        forced || batch.resync ? { events, to: end } : this.#withinLead(webhook, log, events, end);
      if (taken === null) {
        this.#heldBack.add(webhook.id);
        // Looked through before, past here, and still no room for any store found there: on from
        // there (a store that has room again may have changes there: from the cursor again).
        const at = decodePosition(cursor);
        const resume =
          scanned !== undefined &&
          at !== null &&
          covers(decodePosition(scanned.position), at) &&
          [...scanned.stores].every((s) => log.pendingOf(s) > ROOM_AGAIN_AT);
        return resume
          ? this.#scanAhead(webhook, log, cursor, scanned.position, scanned.stores, reads)
          : this.#scanAhead(webhook, log, cursor, cursor, new Set(), reads);
      }
      const to = taken.to;
      const deliveries = taken.events.filter((e) => webhookWants(webhook, e)).map(sharedDeliveryOf);
      if (to === cursor && deliveries.length === 0) {
        this.#behind.delete(webhook.id);
        return true;
      }
      const now = this.#clock.now();
      const last = await this.#write((tx) =>
        tx.enqueueWebhookDeliveries(webhook.id, this.#owner, { from: cursor, to }, deliveries, now),
      );
      if (last === null) {
        // Another node took the lease (or the webhook changed): leave it to the next pass.
        this.#leases.delete(webhook.id);
        this.#logs.delete(webhook.id);
        return false;
      }
      // A store with nothing pending gets its first entry as its head; others keep theirs. (When the
      // log held more stores than were read, a store without a head may have older entries: it
      // gets its head at the next reading of the log.)
      if (this.#logs.get(webhook.id) === log) {
        const heads = log.stores;
        deliveries.forEach((d, i) => {
          log.pending.set(d.store, log.pendingOf(d.store) + 1);
          if (heads.has(d.store) || !log.complete) return;
          heads.set(d.store, {
            ...d,
            webhookId: webhook.id,
            n: last - deliveries.length + 1 + i,
            status: 'pending',
            attempts: 0,
            lastError: null,
            lastStatus: null,
            nextAttemptAt: now,
            createdAt: now,
            updatedAt: now,
          });
        });
      }
      cursor = to;
      if (target !== undefined && covers(decodePosition(to), target)) this.#copyTo.delete(webhook.id);
      if (to === end && !batch.more) {
        this.#behind.delete(webhook.id);
        return true;
      }
    }
    this.#behind.add(webhook.id);
    this.#again = true;
    return true;
  }

  /**
   * The part of a read to copy: its changes up to the first one the webhook wants of a store that
   * would then have more than LOG_LEAD_PER_STORE pending entries, and the position after the last
   * change taken (the read's end when all are). Null when the first such change is the first wanted.
   */
  #withinLead(
    webhook: WebhookRecord,
    log: PendingLog,
    events: readonly ChangeEvent[],
    end: string,
  ): { events: readonly ChangeEvent[]; to: string } | null {
    const counts = new Map<string, number>();
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as ChangeEvent;
      if (!webhookWants(webhook, event)) continue;
      const store = orderKeyOf(event);
      const pending = counts.get(store) ?? log.pendingOf(store);
      if (pending >= LOG_LEAD_PER_STORE) {
        const last = events[i - 1];
        return last === undefined ? null : { events: events.slice(0, i), to: last.id };
      }
      counts.set(store, pending + 1);
    }
    return { events, to: end };
  }

  /**
   * The webhook's changes at its cursor are held back: looks further along the feed (from `from`)
   * for a change of a store with room (ROOM_AGAIN_AT). Found: everything up to it is to be copied
   * (#copyTo), at once. Not found: remembers how far it looked, and looks on from there at the next
   * pass. A store one below the bound (one entry delivered) has no room yet: its changes further on
   * would otherwise pull its whole backlog into the log, one scan per delivery.
   */
  async #scanAhead(
    webhook: WebhookRecord,
    log: PendingLog,
    cursor: string,
    from: string,
    stores: Set<string>,
    reads: FeedReads,
  ): Promise<boolean> {
    let position = from;
    // While writes are in progress (PRESSURE_PASS_MS), one read a pass: the look-ahead goes on,
    // at a pace that takes little from them. Looked at before each read: writes may begin mid-pass.
    for (let read = 0; read < (this.#yielding() ? 1 : FEED_READS_PER_PASS); read++) {
      const { batch, events } = await this.#sharedRead(webhook.tenantId, position, reads);
      const below = events.find((e) => {
        if (!webhookWants(webhook, e)) return false;
        const store = orderKeyOf(e);
        stores.add(store);
        return log.pendingOf(store) <= ROOM_AGAIN_AT;
      });
      const at = below === undefined ? null : decodePosition(below.id);
      if (at !== null || batch.resync) {
        if (at !== null) this.#copyTo.set(webhook.id, at);
        this.#heldBack.delete(webhook.id);
        this.#scanned.delete(webhook.id);
        this.#behind.add(webhook.id);
        this.#again = true;
        return true;
      }
      position = positionText(batch.position);
      this.#scanned.set(webhook.id, { cursor, position, stores });
      if (!batch.more) {
        this.#behind.delete(webhook.id);
        return true;
      }
    }
    this.#behind.add(webhook.id);
    this.#again = true;
    return true;
  }

  async #readFeed(
    tenantId: string,
    cursor: string,
    limit: number,
  ): Promise<{ batch: FeedBatch; events: ChangeEvent[] }> {
    const from = decodePosition(cursor) ?? (await this.#feed.head(tenantId));
    const batch = await this.#feed.read(tenantId, from, limit);
    return { batch, events: await this.#withStoreNames(tenantId, batch.events, new Map()) };
  }

  /**
   * Events name a store as the change addressed it (by id, by name, or both); a webhook filters by
   * name and receivers want names: a store known only by id gets its current name (one lookup per
   * store and pass; a store deleted since keeps its id alone).
   */
  async #withStoreNames(
    tenantId: string,
    events: readonly ChangeEvent[],
    names: Map<string, string | null>,
  ): Promise<ChangeEvent[]> {
    const out: ChangeEvent[] = [];
    for (const event of events) {
      const store = event.store;
      if (store === null || store.name !== null || store.id === null) {
        out.push(event);
        continue;
      }
      let name = names.get(store.id);
      if (name === undefined) {
        name = (await this.#repository.getStoreById(tenantId, store.id))?.name ?? null;
        names.set(store.id, name);
      }
      out.push({ ...event, store: { id: store.id, name } });
    }
    return out;
  }

  /**
   * The oldest pending entry of each store and how many each has pending, kept in memory between
   * passes (the log's rows are the truth; this spares reading them again on every pass): read from
   * the log when the lease is taken, and again every HEADS_RELOAD_MS.
   */
  async #logOf(webhookId: string): Promise<PendingLog> {
    const now = this.#clock.now();
    const known = this.#logs.get(webhookId);
    if (known !== undefined && now - known.loadedAt < HEADS_RELOAD_MS) return known;
    const [rows, counts] = await Promise.all([
      this.#repository.listPendingHeads(webhookId, MAX_STORES_PER_PASS),
      this.#repository.countPendingDeliveries(webhookId, MAX_COUNTED_STORES),
    ]);
    const log = new PendingLog(
      new Map(rows.map((r) => [r.store, r])),
      new Map(counts.map((c) => [c.store, c.count])),
      rows.length < MAX_STORES_PER_PASS,
      now,
    );
    this.#logs.set(webhookId, log);
    return log;
  }

  async #deliverDue(webhook: WebhookRecord): Promise<number | null> {
    const log = await this.#logOf(webhook.id);
    const heads = log.stores;
    if (heads.size === 0) return null;
    const now = this.#clock.now();
    const due = [...heads.values()].filter((e) => (e.nextAttemptAt ?? 0) <= now);
    let nextDue: number | null = null;
    for (const e of heads.values()) {
      if ((e.nextAttemptAt ?? 0) > now) nextDue = Math.min(nextDue ?? Infinity, e.nextAttemptAt ?? 0);
    }
    if (due.length === 0) return nextDue;
    let key: Buffer;
    try {
      key = openWebhookKey(this.#keyring, webhook);
    } catch (error) {
      this.#onError(error);
      return nextDue;
    }
    try {
      const chain = this.#chain;
      const started = Date.now();
      const results = (
        await Promise.all(
          due.map(async (head) => {
            // In order per store: the next entry only once this one is delivered.
            const attempts: { entry: WebhookDeliveryRecord; outcome: SendOutcome }[] = [];
            let entry: WebhookDeliveryRecord | null = head;
            while (entry !== null) {
              const outcome = await this.#attempt(webhook, key, entry);
              attempts.push({ entry, outcome });
              if (!outcome.ok || attempts.length >= chain || Date.now() - started >= CHAIN_MS) break;
              // Writes that began during the chain: one entry a store from here on (PRESSURE_PASS_MS).
              if (this.#yielding()) break;
              // Not into the last quarter of the lease: another node may take the webhook after it.
              const lease = this.#leases.get(webhook.id) ?? 0;
              if (lease - this.#clock.now() < this.#options.leaseMs / 4) break;
              try {
                entry = await this.#repository.nextPendingDelivery(webhook.id, entry.store, entry.n);
              } catch (error) {
                // The chain ends here; what it delivered is recorded with the rest of the pass (a
                // rejection would abandon the other stores' chains mid-flight, their key zeroed).
                this.#onError(error);
                break;
              }
              if (entry !== null && (entry.nextAttemptAt ?? 0) > this.#clock.now()) break;
            }
            return attempts;
          }),
        )
      ).flat();
      const recorded = this.#clock.now();
      const updates = results.map(({ entry, outcome }) => ({
        entry,
        outcome,
        ...this.#next(entry, outcome, recorded),
      }));
      await this.#write(async (tx) => {
        for (const u of updates) {
          await tx.recordDeliveryAttempt(webhook.id, u.entry.n, {
            status: u.status,
            attempts: u.entry.attempts + 1,
            lastError: u.outcome.ok ? null : u.outcome.error,
            lastStatus: u.outcome.status,
            nextAttemptAt: u.nextAttemptAt,
            updatedAt: recorded,
          });
        }
        const newest = Math.max(...updates.map((u) => u.entry.n));
        if (newest > DELIVERY_LOG_KEEP)
          await tx.pruneWebhookDeliveries(webhook.id, newest - DELIVERY_LOG_KEEP);
      });
      // A store's head is set by its last update (a chain's entries come in order): earlier ones of
      // the same store need no read of their next entry.
      const lastOfStore = new Map(updates.map((u) => [u.entry.store, u]));
      for (const u of updates) {
        // The store's head: the same entry, retried later, or the next one of its store.
        if (u.status === 'pending') {
          heads.set(u.entry.store, {
            ...u.entry,
            attempts: u.entry.attempts + 1,
            lastError: u.outcome.ok ? null : u.outcome.error,
            lastStatus: u.outcome.status,
            nextAttemptAt: u.nextAttemptAt,
            updatedAt: recorded,
          });
        } else {
          const left = Math.max(0, log.pendingOf(u.entry.store) - 1);
          log.pending.set(u.entry.store, left);
          // Room in the log again (half of it: copies come in chunks, not one row per delivery, each
          // after a read at the cursor): the changes waiting in the feed are read at the next pass.
          if (left <= ROOM_AGAIN_AT && this.#heldBack.delete(webhook.id)) {
            this.#behind.add(webhook.id);
          }
          if (lastOfStore.get(u.entry.store) === u) {
            const next = await this.#repository.nextPendingDelivery(webhook.id, u.entry.store, u.entry.n);
            if (next === null) heads.delete(u.entry.store);
            else heads.set(u.entry.store, next);
          }
        }
        this.#metrics.webhookAttempt(u.status === 'pending' ? 'retry' : u.status);
        if (u.status === 'delivered') {
          this.#metrics.webhookLag(Math.max(0, recorded - eventTime(u.entry)) / 1000);
        }
        if (u.nextAttemptAt !== null) nextDue = Math.min(nextDue ?? Infinity, u.nextAttemptAt);
      }
      // A store whose head is done may have a next entry ready now.
      if (updates.some((u) => u.status !== 'pending')) return recorded;
      return nextDue;
    } finally {
      key.fill(0);
    }
  }

  /** How many entries of one store a pass may deliver in a row, from the load since the last tick. */
  #chainLength(): number {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, this.#loopAt);
    this.#loopAt = now;
    return since.utilization < CHAIN_WHEN_BUSY_BELOW ? CHAIN_PER_STORE : 1;
  }

  #next(
    entry: WebhookDeliveryRecord,
    outcome: SendOutcome,
    now: number,
  ): { status: WebhookDeliveryRecord['status']; nextAttemptAt: number | null } {
    if (outcome.ok) return { status: 'delivered', nextAttemptAt: null };
    const attempt = entry.attempts + 1;
    const bound = Math.min(MAX_BACKOFF_MS, this.#options.backoffMs * 2 ** Math.min(attempt - 1, 30));
    const at = now + Math.floor(Math.random() * bound);
    // The window runs from the change's commit (a change may wait in the feed before its entry is
    // written: LOG_LEAD_PER_STORE), so a receiver that is down does not get a fresh window per entry.
    const since = Math.min(entry.createdAt, eventTime(entry));
    if (at - since > this.#options.retryMs) return { status: 'failed', nextAttemptAt: null };
    return { status: 'pending', nextAttemptAt: at };
  }

  async #attempt(webhook: WebhookRecord, key: Buffer, entry: WebhookDeliveryRecord): Promise<SendOutcome> {
    await this.#slot();
    try {
      const timestamp = Math.floor(this.#clock.now() / 1000);
      return await sendWebhook(
        webhook.url,
        {
          'content-type': 'application/json',
          'user-agent': this.#options.userAgent,
          'webhook-id': entry.eventId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(key, entry.eventId, timestamp, entry.payload),
        },
        entry.payload,
        {
          timeoutMs: this.#options.timeoutMs,
          allowPrivate: this.#options.allowPrivate,
          connections: this.#connections,
        },
      );
    } catch (error) {
      return { ok: false, status: null, error: `delivery failed (${(error as Error).name})` };
    } finally {
      this.#release();
    }
  }

  async #slot(): Promise<void> {
    const limit = this.#options.concurrency ?? 16;
    while (this.#inFlight >= limit) await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    this.#inFlight++;
  }

  #release(): void {
    this.#inFlight--;
    this.#slotWaiters.shift()?.();
  }

  /** Stops: no new pass; the passes running finish (attempts end within their timeout). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const stop of this.#watching.values()) stop();
    this.#watching.clear();
    await Promise.allSettled([...this.#running]);
    this.#connections.close();
  }
}

/** Whether position `a` is at or past `b` on every chain of `b` (a null `a`: not known, so no). */
function covers(a: FeedPosition | null, b: FeedPosition): boolean {
  if (a === null) return false;
  for (const [chain, seq] of b) if ((a.get(chain) ?? 0) < seq) return false;
  return true;
}

/** Per webhook: its log's pending entries, as far as the worker needs them. */
class PendingLog {
  constructor(
    /** The oldest pending entry of each store (at most MAX_STORES_PER_PASS). */
    readonly stores: Map<string, WebhookDeliveryRecord>,
    /** Pending entries per store (kept up to date by the worker, which alone writes the log). */
    readonly pending: Map<string, number>,
    /** Whether `stores` holds every store with a pending entry. */
    readonly complete: boolean,
    readonly loadedAt: number,
  ) {}

  pendingOf(store: string): number {
    return this.pending.get(store) ?? 0;
  }
}

/**
 * A change's delivery (its body, made once): the webhooks of a tenant reading one position in a pass
 * share the feed read, hence the same event objects, so the body is serialised once, not per webhook.
 */
const deliveries = new WeakMap<ChangeEvent, NewWebhookDelivery>();
function sharedDeliveryOf(event: ChangeEvent): NewWebhookDelivery {
  let delivery = deliveries.get(event);
  if (delivery === undefined) {
    delivery = deliveryOf(event);
    deliveries.set(event, delivery);
  }
  return delivery;
}

/** The change's commit time, from the delivery's body (its `timestamp`). */
function eventTime(entry: WebhookDeliveryRecord): number {
  try {
    const parsed: unknown = JSON.parse(entry.payload);
    if (typeof parsed === 'object' && parsed !== null && 'timestamp' in parsed) {
      const t = Date.parse(String(parsed.timestamp));
      if (Number.isFinite(t)) return t;
    }
  } catch {
    // A body that is not ours: no lag to report.
  }
  return entry.createdAt;
}
