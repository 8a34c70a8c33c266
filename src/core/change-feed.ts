import type { AuditReads } from './ports/audit.js';
import type { Repository } from './ports/repository.js';
import { type ChangeSignals, NO_CHANGE_SIGNALS } from './ports/change-signals.js';
import {
  type ChangeEvent,
  changeOf,
  encodePosition,
  type FeedPosition,
  positionText,
  withId,
} from './change-events.js';
import { carriesChanges } from './audit-trail.js';
import type { AuditEventRecord } from './model.js';

/** Audit events read per chain and call: a batch, not the whole backlog of a far-behind reader. */
export const FEED_READ_LIMIT = 500;

/** Watchers of a tenant are woken at most this often: a burst of commits is read and sent as one. */
export const WAKE_INTERVAL_MS = 20;

/**
 * With many watchers, at most every WAKE_MS_PER_WATCHER per watcher, up to this: each wake-up costs
 * every subscriber of the tenant a socket write, so under a stream of commits a tenant's streams cost
 * at most about 330 writes a second up to 100 of them (100 subscribers: a batch every 300 ms instead
 * of 5,000 writes a second at 20 ms), and a change still reaches them within this bound.
 */
export const MAX_WAKE_INTERVAL_MS = 300;

/**
 * Milliseconds of wake interval per watcher of a tenant. Measured with 100 streams under a stream of
 * durable PUTs on one core (BENCHMARKS.md): at 1 ms (100 ms for 100) their socket writes took 34 µs of
 * the event loop per PUT, at 3 ms 22 µs, the feed's reads and the frames' dispatch halving as well.
 */
export const WAKE_MS_PER_WATCHER = 3;

/** How often the heads of watched tenants are polled while no live channel announces every commit. */
export const DEFAULT_FEED_POLL_MS = 1_000;

/**
 * While a live channel announces commits, every this many poll intervals the heads of watched tenants
 * are looked at all the same (10 s by default): an announcement sent after COMMIT (PostgreSQL) is lost
 * if its process dies in between, and the next change of the tenant might be long in coming.
 */
export const LIVE_POLL_EVERY = 10;

/**
 * Audit events kept decoded per chain of a watched tenant (the newest ones read: the chain's tail),
 * so that the readers of a tenant that stand at different positions near its heads (the change
 * streams, the webhook worker scanning ahead) decode each event once, from one read of the chains.
 */
export const TAIL_KEEP = 1_024;

/** Decoded events kept in the tails of every tenant together, at most (least recently read go first). */
export const TAIL_MAX_EVENTS = 16_384;

/** One read of a tenant's changes after a position. */
export interface FeedBatch {
  /** Every change of the tenant after the position, in order (not filtered for any reader). */
  readonly events: readonly ChangeEvent[];
  /** Where the next read starts: after every audit event scanned (changes or not). */
  readonly position: FeedPosition;
  /**
   * True when events after the position asked for are gone (retention pruned them): the reader
   * cannot know what it missed and must resynchronise; `position` is then the tenant's heads.
   */
  readonly resync: boolean;
  /** True when a chain had more events than one read scans: read again at once. */
  readonly more: boolean;
}

/**
 * One audit event of a chain, as the feed keeps it: where it sorts (seq, time) and the change it
 * records, if any (its id left empty: the id depends on where a reader started). Names, ids, versions
 * and times: never a value (audit events hold none).
 */
interface TailEvent {
  readonly seq: number;
  readonly time: number;
  readonly change: ChangeEvent | null;
  /** The event last made of `change` for a reader: readers that give it the same id share it. */
  made: ChangeEvent | null;
}

/** Every audit event of one chain with seq in (after, after + events.length], in order. */
class ChainTail {
  after: number;
  events: TailEvent[];

  constructor(after: number, events: TailEvent[]) {
    this.after = after;
    this.events = events;
  }

  get upTo(): number {
    return this.after + this.events.length;
  }

  /** Past twice `keep`, keeps the newest `keep` (in chunks: no copy per event); answers how many went. */
  trim(keep: number): number {
    if (this.events.length <= 2 * keep) return 0;
    const drop = this.events.length - keep;
    this.events = this.events.slice(drop);
    this.after += drop;
    return drop;
  }
}

/** What the feed reads: a tenant's audit chains (several: one per writer and lane, ADR 0011). */
export type FeedReads = Pick<AuditReads, 'listAuditEvents' | 'getAuditHead' | 'listAuditChains'> &
  Pick<Partial<Repository>, 'syncVisibleCommits'>;

/** Where committed events of this process are announced (AuditTrail.onCommitted). */
export interface LocalCommits {
  onCommitted(listener: (events: readonly AuditEventRecord[]) => void): () => void;
  /**
   * For a chain this process has a change in flight on: the newest seq known durable and announced
   * (AuditTrail.announcedUpTo); undefined when the database's head is all durable. Optional: a feed
   * of other processes' commits only reads the database's heads.
   */
  announcedUpTo?(chainId: string): number | undefined;
  /** Whether this process writes the chain (AuditTrail.ownsChain); optional as above. */
  ownsChain?(chainId: string): boolean;
}

/** Heads of other processes' chains made durable here (#changeChains); cleared when larger. */
const SYNCED_HEADS_MAX = 10_000;

/** A chain that can hold changes, and the newest seq of it the feed may read. */
interface FeedChain {
  readonly chainId: string;
  readonly seq: number;
}

/**
 * The change feed (docs/notifications.md, ADR 0016): change events derived from the audit chains, the
 * transactional outbox every change already writes. Content always comes from reading the chains
 * after a position, never from a wake-up, so a change is announced only once committed, and a reader
 * that was away (a lost connection, a restart, another node) resumes from its position without a gap.
 *
 * Wake-ups say when to read: this process's commits (`LocalCommits`), other nodes' through the
 * engine's `ChangeSignals`, and, while those are not live (SQLite, whose other writers are other
 * processes; PostgreSQL without its listen connection), polling of the watched tenants' chain heads.
 * Nothing here runs inside a write: a slow reader never slows a change.
 */
export class ChangeFeed {
  readonly #reads: FeedReads;
  readonly #commits: LocalCommits;
  readonly #signals: ChangeSignals;
  readonly #pollMs: number;
  readonly #tailKeep: number;
  readonly #watchers = new Map<string, Set<() => void>>();
  /** The head seq last seen per watched tenant (polling). */
  readonly #polledHeads = new Map<string, string>();
  readonly #unsubscribe: (() => void)[] = [];
  #poll: NodeJS.Timeout | null = null;
  #polling = false;
  #pollRounds = 0;
  /**
   * Reads in flight, per tenant and (limit, position): readers woken together at one position (every
   * caught-up subscriber of a tenant) share one read of the chains instead of one each. An entry is
   * dropped when its read settles and, for the tenant, at every wake-up, so a read that starts after
   * a wake-up never joins one that began before the commit it announces.
   */
  readonly #inFlight = new Map<string, Map<string, Promise<FeedBatch>>>();
  /** Per watched tenant: when its watchers were last woken, and the wake-up due at the interval's end. */
  readonly #lastWake = new Map<string, number>();
  /** Per tenant: cancels the wake-up due (at the interval's end, or at once: see #wakeWatchers). */
  readonly #trailingWake = new Map<string, () => void>();
  /**
   * Per watched tenant (least recently read first), per chain: its tail, decoded (TAIL_KEEP). Audit
   * events never change once committed, and only committed ones are read, so a read whose range a
   * tail holds takes the events from it instead of the database, and readers at different positions
   * share one decoding. Dropped with the tenant's last watcher; TAIL_MAX_EVENTS in all.
   */
  readonly #tails = new Map<string, Map<string, ChainTail>>();
  #tailEvents = 0;
  /** Per chain another process writes: the head up to which this process has synced the WAL. */
  readonly #syncedHeads = new Map<string, number>();

  constructor(deps: {
    reads: FeedReads;
    commits: LocalCommits;
    signals?: ChangeSignals;
    pollMs?: number;
    /** Events a chain's tail keeps (TAIL_KEEP; it grows to twice this before it is cut). */
    tailKeep?: number;
  }) {
    this.#reads = deps.reads;
    this.#commits = deps.commits;
    this.#signals = deps.signals ?? NO_CHANGE_SIGNALS;
    this.#pollMs = deps.pollMs ?? DEFAULT_FEED_POLL_MS;
    this.#tailKeep = deps.tailKeep ?? TAIL_KEEP;
    this.#unsubscribe.push(
      deps.commits.onCommitted((events) => {
        this.#keepCommitted(events);
        for (const tenant of new Set(events.map((e) => e.tenantId))) this.#wake(tenant);
      }),
      this.#signals.subscribe((tenant) => this.#wake(tenant)),
    );
  }

  /**
   * The tenant's chains that can hold changes (`carriesChanges`: a read-only writer adds none), each
   * with the newest seq to read: its head, or less while this process has a change in flight there
   * (a SQLite COMMIT is visible before the WAL sync that makes it durable: a change is announced only
   * once durable, when its writer is answered; docs/notifications.md).
   */
  async #changeChains(tenantId: string): Promise<FeedChain[]> {
    const chains: FeedChain[] = [];
    const moved: FeedChain[] = [];
    const sync = this.#reads.syncVisibleCommits;
    for (const chain of await this.#reads.listAuditChains({ tenantId })) {
      if (!carriesChanges(chain.chainId)) continue;
      const head = chain.head?.seq ?? 0;
      const durable = this.#commits.announcedUpTo?.(chain.chainId);
      chains.push({ chainId: chain.chainId, seq: durable === undefined ? head : Math.min(head, durable) });
      // Another process's chain that moved: its commit may not be synced yet (SQLite).
      const others = sync !== undefined && this.#commits.ownsChain?.(chain.chainId) !== true;
      if (others && head > (this.#syncedHeads.get(chain.chainId) ?? 0)) {
        moved.push({ chainId: chain.chainId, seq: head });
      }
    }
    if (moved.length > 0 && sync !== undefined) {
      // After the heads were read: the sync covers every commit up to them.
      await sync.call(this.#reads);
      if (this.#syncedHeads.size > SYNCED_HEADS_MAX) this.#syncedHeads.clear();
      for (const chain of moved) this.#syncedHeads.set(chain.chainId, chain.seq);
    }
    return chains;
  }

  /** The tenant's position now: a reader that starts here sees only what is committed from now on. */
  async head(tenantId: string): Promise<FeedPosition> {
    const position = new Map<string, number>();
    for (const chain of await this.#changeChains(tenantId)) {
      position.set(chain.chainId, chain.seq);
    }
    return position;
  }

  /**
   * The tenant's changes after `from`, oldest first (per chain by seq; chains interleaved by time).
   * Scans at most `limit` audit events per chain; `more` says when to read again at once.
   */
  read(tenantId: string, from: FeedPosition, limit = FEED_READ_LIMIT): Promise<FeedBatch> {
    let reads = this.#inFlight.get(tenantId);
    if (reads === undefined) {
      reads = new Map();
      this.#inFlight.set(tenantId, reads);
    }
    const key = `${limit} ${positionText(from)}`;
    const joined = reads.get(key);
    if (joined !== undefined) return joined;
    const started = this.#readChains(tenantId, from, limit);
    reads.set(key, started);
    const settle = () => {
      const current = this.#inFlight.get(tenantId);
      if (current?.get(key) !== started) return;
      current.delete(key);
      if (current.size === 0) this.#inFlight.delete(tenantId);
    };
    started.then(settle, settle);
    return started;
  }

  async #readChains(tenantId: string, from: FeedPosition, limit: number): Promise<FeedBatch> {
    const position = new Map<string, number>();
    const parts: { chain: string; events: TailEvent[] }[] = [];
    let more = false;
    const tails = this.#tailsOf(tenantId);
    // Heads first, events after: every event up to a head read here is committed, so an event missing
    // below it was pruned, never one still committing (which a head read after the events could show).
    for (const { chainId: chain, seq: headSeq } of await this.#changeChains(tenantId)) {
      const after = from.get(chain) ?? 0;
      // A chain with nothing new (most of a tenant's: other processes', older writers') costs no read.
      // What commits after the listing wakes the reader again.
      if (headSeq <= after) {
        position.set(chain, after);
        continue;
      }
      const events = await this.#chainEvents(tenantId, tails, chain, after, headSeq, limit);
      if (events === null)
        return { events: [], position: await this.head(tenantId), resync: true, more: false };
      if (events.length === limit) more = true;
      position.set(chain, after + events.length);
      if (events.length > 0) parts.push({ chain, events });
    }
    const running = new Map(from);
    const events: ChangeEvent[] = [];
    const add = (chain: string, event: TailEvent) => {
      running.set(chain, event.seq);
      const change = event.change;
      if (change === null) return;
      const id = encodePosition(running);
      let made = event.made;
      if (made === null || made.id !== id) {
        made = withId(change, id);
        event.made = made;
      }
      events.push(made);
    };
    const [only] = parts;
    if (parts.length === 1 && only !== undefined) {
      for (const event of only.events) add(only.chain, event);
    } else {
      // Several chains: by time, then chain, then seq (stable per chain).
      const scanned = parts.flatMap(({ chain, events: part }) => part.map((event) => ({ chain, event })));
      scanned.sort(
        (a, b) =>
          a.event.time - b.event.time ||
          (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0) ||
          a.event.seq - b.event.seq,
      );
      for (const { chain, event } of scanned) add(chain, event);
    }
    return { events, position, resync: false, more };
  }

  /**
   * The chain's audit events after `after` (at most `limit`), decoded: from its tail where the tail
   * holds them, else (and for what lies past the tail) from the database, the tail then growing by
   * what was read. Null when events after `after` are gone (pruned).
   */
  async #chainEvents(
    tenantId: string,
    tails: Map<string, ChainTail> | null,
    chain: string,
    after: number,
    head: number,
    limit: number,
  ): Promise<TailEvent[] | null> {
    const end = after + limit;
    const tail = tails?.get(chain);
    let got: TailEvent[] = [];
    let at = after;
    if (tail !== undefined && tail.after <= after && after < tail.upTo) {
      at = Math.min(tail.upTo, end);
      got = tail.events.slice(after - tail.after, at - tail.after);
      if (at >= head || at >= end) return got;
    }
    // No further than the head read (capped where this process has a change in flight): a later
    // commit wakes the reader again. Bounded above as well as by the limit: a chain's seqs have no
    // gaps, so the range holds every event wanted and no more, and an index scan of it stops after
    // `limit` rows instead of the plan reading everything past the position. (PostgreSQL,
    // its statistics older than the newest events, estimated a hundred rows after a position 40,000
    // events behind the head, and read all 40,000 in a bitmap scan to sort and keep 500: 85 ms
    // instead of 1.2 ms, a cost growing with the reader's lag. BENCHMARKS.md, "Change notifications".)
    const upTo = Math.min(end, head);
    const records = await this.#reads.listAuditEvents({
      chainId: chain,
      direction: 'asc',
      afterSeq: at,
      beforeSeq: upTo + 1,
      limit: upTo - at,
    });
    const first = records[0];
    // Missing events (pruned): the reader resynchronises, as it would have at its next read.
    if (first !== undefined ? first.seq !== at + 1 : head > at) return null;
    const read: TailEvent[] = [];
    for (const record of records) {
      read.push({ seq: record.seq, time: record.time, change: changeOf(record, ''), made: null });
    }
    if (tails !== null) this.#keep(tenantId, chain, at, read);
    return got.length === 0 ? read : got.concat(read);
  }

  /** The tenant's tails, while it is watched (the most recently read tenant last); null if it is not. */
  #tailsOf(tenantId: string): Map<string, ChainTail> | null {
    if (!this.#watchers.has(tenantId)) return null;
    let tails = this.#tails.get(tenantId);
    if (tails === undefined) tails = new Map();
    else this.#tails.delete(tenantId);
    this.#tails.set(tenantId, tails);
    return tails;
  }

  /**
   * Adds the chain's events (after, after + read.length] to its tail, as far as they join it (unless
   * the tenant's tails were dropped while they were read).
   */
  #keep(tenantId: string, chain: string, after: number, read: readonly TailEvent[]): void {
    const tails = this.#tails.get(tenantId);
    if (read.length === 0 || tails === undefined) return;
    const tail = tails.get(chain);
    const upTo = after + read.length;
    if (tail === undefined || after > tail.upTo || upTo < tail.after) {
      // None yet, or apart from it: the newer run is kept (readers stand near the heads).
      if (tail !== undefined && upTo < tail.after) return;
      if (tail !== undefined) this.#tailEvents -= tail.events.length;
      tails.set(chain, new ChainTail(after, read.slice()));
      this.#tailEvents += read.length;
    } else if (after >= tail.after) {
      // It starts inside the tail or just past it: the part past the tail's end joins it.
      const joined = read.slice(tail.upTo - after);
      for (const event of joined) tail.events.push(event);
      this.#tailEvents += joined.length;
    } else {
      // It starts before the tail and reaches it: it becomes the tail's start.
      const rest = tail.events.slice(Math.max(0, upTo - tail.after));
      this.#tailEvents += read.length - (tail.events.length - rest.length);
      tail.after = after;
      tail.events = read.concat(rest);
    }
    const current = tails.get(chain);
    if (current !== undefined) this.#tailEvents -= current.trim(this.#tailKeep);
    this.#bound();
  }

  /**
   * This process's committed events (after COMMIT: AuditTrail.onCommitted) join the tails of the
   * tenants that have them: the same records a read of the chains would give, so the streams and the
   * worker, woken by this commit, find its changes decoded instead of reading them back. Heads are
   * still read from the database first, and an event that does not continue its chain's tail only
   * starts a new one, so this changes where a read finds events, never which ones.
   */
  #keepCommitted(events: readonly AuditEventRecord[]): void {
    for (const record of events) {
      const tails = this.#tails.get(record.tenantId);
      if (tails === undefined || !carriesChanges(record.chainId)) continue;
      const event: TailEvent = {
        seq: record.seq,
        time: record.time,
        change: changeOf(record, ''),
        made: null,
      };
      const tail = tails.get(record.chainId);
      if (tail !== undefined && tail.upTo === record.seq - 1) {
        tail.events.push(event);
        this.#tailEvents++;
        this.#tailEvents -= tail.trim(this.#tailKeep);
        this.#bound();
      } else {
        this.#keep(record.tenantId, record.chainId, record.seq - 1, [event]);
      }
    }
  }

  /** Drops the tails of the least recently read tenants while more than TAIL_MAX_EVENTS are kept. */
  #bound(): void {
    for (const [tenantId, tails] of this.#tails) {
      if (this.#tailEvents <= TAIL_MAX_EVENTS || this.#tails.size <= 1) return;
      this.#dropTails(tenantId, tails);
    }
  }

  #dropTails(tenantId: string, tails = this.#tails.get(tenantId)): void {
    if (tails === undefined) return;
    for (const tail of tails.values()) this.#tailEvents -= tail.events.length;
    this.#tails.delete(tenantId);
  }

  /**
   * Calls `wake` whenever the tenant's chains may have grown (possibly spuriously). Answers the
   * function that stops it.
   */
  watchTenant(tenantId: string, wake: () => void): () => void {
    let set = this.#watchers.get(tenantId);
    if (set === undefined) {
      set = new Set();
      this.#watchers.set(tenantId, set);
    }
    set.add(wake);
    this.#schedulePoll();
    return () => {
      const current = this.#watchers.get(tenantId);
      current?.delete(wake);
      if (current?.size === 0) {
        this.#watchers.delete(tenantId);
        this.#polledHeads.delete(tenantId);
        this.#lastWake.delete(tenantId);
        this.#dropTails(tenantId);
        this.#trailingWake.get(tenantId)?.();
        this.#trailingWake.delete(tenantId);
      }
    };
  }

  /**
   * A reader of one tenant's changes from a position, filtered (a store, a subscriber's rights).
   * Readers given the same `filterKey` must have filters that keep the same events: a batch they
   * share is then filtered once for all of them (and the result is one array, encoded once).
   */
  reader(
    tenantId: string,
    from: FeedPosition,
    filter: (event: ChangeEvent) => boolean,
    filterKey?: string,
  ): FeedReader {
    return new FeedReader(this, tenantId, from, filter, filterKey);
  }

  /**
   * A commit (or a possible one) of the tenant (null: any tenant). Reads in flight are dropped at once
   * (see #inFlight); the watchers are woken at most once per WAKE_INTERVAL_MS per tenant, or
   * WAKE_MS_PER_WATCHER per watcher up to MAX_WAKE_INTERVAL_MS (the first as soon as this turn of the
   * event loop ends, later ones at the end of the interval), so a burst of commits reaches every
   * subscriber as one read and one write instead of one per commit.
   */
  #wake(tenantId: string | null): void {
    if (tenantId === null) {
      this.#inFlight.clear();
      for (const tenant of this.#watchers.keys()) this.#wakeWatchers(tenant);
      return;
    }
    this.#inFlight.delete(tenantId);
    this.#wakeWatchers(tenantId);
  }

  #wakeWatchers(tenantId: string): void {
    const watchers = this.#watchers.get(tenantId);
    if (watchers === undefined || this.#trailingWake.has(tenantId)) return;
    const now = Date.now();
    const interval = Math.min(
      MAX_WAKE_INTERVAL_MS,
      Math.max(WAKE_INTERVAL_MS, watchers.size * WAKE_MS_PER_WATCHER),
    );
    const due = (this.#lastWake.get(tenantId) ?? 0) + interval;
    const fire = () => {
      this.#trailingWake.delete(tenantId);
      this.#lastWake.set(tenantId, Date.now());
      for (const wake of this.#watchers.get(tenantId) ?? []) wake();
    };
    if (now >= due) {
      // Not in this turn of the event loop but right after it: the commits of one group commit (a
      // SQLite batch) are announced one after the other in the same turn, and a read begun at the
      // first would find the others committed but not yet in the tails, and read them back.
      const immediate = setImmediate(fire);
      immediate.unref();
      this.#trailingWake.set(tenantId, () => clearImmediate(immediate));
      return;
    }
    const timer = setTimeout(fire, due - now);
    timer.unref();
    this.#trailingWake.set(tenantId, () => clearTimeout(timer));
  }

  #schedulePoll(): void {
    if (this.#poll !== null || this.#watchers.size === 0) return;
    this.#poll = setTimeout(() => {
      this.#poll = null;
      void this.#pollHeads().finally(() => this.#schedulePoll());
    }, this.#pollMs);
    this.#poll.unref();
  }

  /**
   * While signals are not live (and every LIVE_POLL_EVERY rounds while they are): the heads of
   * watched tenants; a moved head wakes its watchers.
   */
  async #pollHeads(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      // Live: only tenants not looked at yet, and every tenant every LIVE_POLL_EVERY rounds.
      const live = this.#signals.live() && ++this.#pollRounds % LIVE_POLL_EVERY !== 0;
      for (const tenantId of [...this.#watchers.keys()]) {
        if (live && this.#polledHeads.has(tenantId)) continue;
        const chains = await this.#changeChains(tenantId);
        const seq = chains.map((c) => `${c.chainId}:${c.seq}`).join(' ');
        const before = this.#polledHeads.get(tenantId);
        if (this.#watchers.has(tenantId)) this.#polledHeads.set(tenantId, seq);
        // The first look at a tenant wakes its watchers too: a change may have committed between a
        // watcher taking its position and this baseline. A spurious wake-up costs one read.
        if (before !== seq) this.#wake(tenantId);
      }
    } catch {
      // The database is unreachable: the next round tries again.
    } finally {
      this.#polling = false;
    }
  }

  close(): void {
    for (const stop of this.#unsubscribe) stop();
    if (this.#poll !== null) clearTimeout(this.#poll);
    this.#poll = null;
    for (const cancel of this.#trailingWake.values()) cancel();
    this.#trailingWake.clear();
    this.#watchers.clear();
    this.#tails.clear();
    this.#tailEvents = 0;
  }
}

/**
 * One reader's cursor into a tenant's feed: `next()` waits until there is something for it (changes
 * that pass its filter, or a resync), and answers it together with the position after it.
 */
export class FeedReader {
  readonly #feed: ChangeFeed;
  readonly tenantId: string;
  readonly #filter: (event: ChangeEvent) => boolean;
  readonly #filterKey: string | null;
  #position: FeedPosition;
  #dirty = true;
  #waiting: (() => void) | null = null;
  /** The signal `next` was last given (it has a listener that pokes this reader). */
  #signal: AbortSignal | null = null;
  readonly #stop: () => void;

  constructor(
    feed: ChangeFeed,
    tenantId: string,
    from: FeedPosition,
    filter: (event: ChangeEvent) => boolean,
    filterKey?: string,
  ) {
    this.#feed = feed;
    this.tenantId = tenantId;
    this.#position = from;
    this.#filter = filter;
    this.#filterKey = filterKey ?? null;
    this.#stop = feed.watchTenant(tenantId, () => this.poke());
  }

  get position(): FeedPosition {
    return this.#position;
  }

  /** Makes a waiting `next()` read again (a wake-up; also usable to end a wait and look at `signal`). */
  poke(): void {
    this.#dirty = true;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }

  /**
   * The next changes for this reader, or a resync; waits for them. Answers null when `signal` is
   * aborted first. The events answered may be shared with other readers: never change the array.
   */
  async next(signal: AbortSignal): Promise<{ events: readonly ChangeEvent[]; resync: boolean } | null> {
    if (signal !== this.#signal) {
      // One listener per signal, not one per wait: a stream waits once per batch it is sent, and an
      // AbortSignal listener costs more to add and remove than the rest of the wait.
      this.#signal = signal;
      signal.addEventListener('abort', () => this.poke(), { once: true });
    }
    for (;;) {
      if (signal.aborted) return null;
      if (!this.#dirty) {
        await new Promise<void>((resolve) => {
          this.#waiting = resolve;
        });
        continue;
      }
      this.#dirty = false;
      const batch = await this.#feed.read(this.tenantId, this.#position);
      this.#position = batch.position;
      if (batch.more) this.#dirty = true;
      if (batch.resync) return { events: [], resync: true };
      const events = this.#filtered(batch.events);
      if (events.length > 0) return { events, resync: false };
    }
  }

  /**
   * The events of a batch this reader keeps: the batch's own array when it keeps all, and one array
   * for every reader of the same filter key woken with this one (a subscriber's stream encodes a
   * shared array once for all of them: v1-event-routes.ts).
   */
  #filtered(all: readonly ChangeEvent[]): readonly ChangeEvent[] {
    const key = this.#filterKey;
    let byKey = key === null ? undefined : filteredBatches.get(all);
    const known = key === null ? undefined : byKey?.get(key);
    if (known !== undefined) return known;
    const kept = all.filter(this.#filter);
    const events = kept.length === all.length ? all : kept;
    if (key !== null) {
      if (byKey === undefined) {
        byKey = new Map();
        filteredBatches.set(all, byKey);
      }
      byKey.set(key, events);
    }
    return events;
  }

  close(): void {
    this.#stop();
    this.poke();
  }
}

/** Per batch read (held as long as the batch is): what each filter key kept of it (FeedReader). */
const filteredBatches = new WeakMap<readonly ChangeEvent[], Map<string, readonly ChangeEvent[]>>();
