import { type MetricsSink, NO_METRICS } from './metrics-sink.js';
import type { Repository, RepositoryTx } from './ports/repository.js';
import { type Actor, actorLabel } from './actor.js';
import { safeName } from './audit-redaction.js';
import { randomBytes } from 'node:crypto';
import { chainEvent, GENESIS_HASH } from './audit-chain.js';
import type { CallContext } from './call-context.js';
import type { Clock } from './clock.js';
import { KeyedTurnstile } from './turnstile.js';
import { isCofferError, UnavailableError } from './errors.js';
import type { AuditChainRef, AuditEventRecord, AuditHead, AuditOutcome } from './model.js';
import { isTenantId } from './names.js';
import { mayRecordChange } from './change-events.js';
import { ChangeRecorder } from './change-recorder.js';

/**
 * The "tenant" of platform-wide events: unauthenticated callers, service credentials. Never a tenant
 * id. (Before schema 3 it was also the id of the one platform chain.)
 */
export const PLATFORM_CHAIN = '';

/**
 * A writer identity: 96 random bits, new at every process start (ADR 0011). Chains are named after
 * their writer, so two live processes can never append to one chain: no lease to take or renew, no
 * row shared between nodes. A restarted process starts new chains rather than resuming its old ones,
 * because nothing can prove that the process that owned them is gone (a paused node, a second CLI).
 */
export function newWriterId(): string {
  return randomBytes(12).toString('hex');
}

/**
 * Which of a tenant's chains (per writer) an event joins: changes (`c`), appended inside the change's
 * own transaction, and events appended alone (`r`: reads and refusals, group-committed), so that a
 * read's batch never waits for a change's transaction to commit.
 */
type Lane = 'c' | 'r';

/** Opaque to everything but this file; holds a `/`, so it is never a tenant id (a schema-2 chain's id). */
function chainIdOf(writerId: string, lane: Lane, tenantId: string): string {
  return `${writerId}/${lane}/${tenantId}`;
}

/**
 * Whether a chain can hold a change's event: false only for a writer's `r` lane (reads and refusals,
 * never an allowed change). Chains written before schema 3 (id = tenant id) hold both. The change
 * feed reads, and names in its positions, only the chains for which this is true.
 */
export function carriesChanges(chainId: string): boolean {
  // `<writer>/r/<tenant>` (a second segment of `r` and a third after it): no split, as this runs for
  // every committed event of a watched tenant.
  const first = chainId.indexOf('/');
  return first < 0 || !chainId.startsWith('r/', first + 1);
}

/** A bound on re-reading a chain's head in one transaction (after a locked read, one retry suffices). */
const HEAD_RETRIES = 8;

/** What one event says happened: the tenant addressed, the action and the resource (names or ids). */
export interface AuditEntry {
  readonly tenantId: string;
  readonly action: string;
  readonly resource: string;
}

/** Receives each committed batch of events (COFFER_AUDIT_STDOUT); never called for a rolled-back change. */
export type AuditSink = (events: readonly AuditEventRecord[]) => void;

/** Who an event names, and from where. `anonymous` when no credential was accepted. */
export interface AuditSubject {
  /** Null: the request did not authenticate. */
  readonly actor: Actor | null;
  readonly requestId: string;
  readonly clientAddress: string;
}

/**
 * What the trail did with a failed call's error on its way out of the core. `recorded`: its event is
 * written (or it is the trail's own fail-closed error), so the facade must not write another. `lost`:
 * its event could not be written; the call keeps its own answer (it changed and returned nothing, so
 * there is nothing to hold back) and the facade logs the lost event. An error the trail never saw
 * has neither.
 */
export type FailureRecord = 'recorded' | 'lost';

/** A refusal (4xx of every facade) is `denied`; anything else that went wrong is an `error`. */
export function outcomeOfError(error: unknown): { outcome: AuditOutcome; reason: string } {
  if (isCofferError(error)) {
    return { outcome: error.kind === 'unavailable' ? 'error' : 'denied', reason: error.code };
  }
  return { outcome: 'error', reason: 'internal' };
}

/** The one error a call ends in when its event cannot be written: fail closed (503 everywhere). */
function auditUnavailable(): UnavailableError {
  return new UnavailableError(
    'audit_unavailable',
    'The audit trail cannot be written, so the request was not carried out.',
  );
}

/** Most events appended alone that share one transaction (group commit, see `#appendAlone`). */
const MAX_BATCH = 256;

interface PendingAppend {
  readonly ctx: AuditSubject;
  readonly entry: AuditEntry;
  readonly outcome: AuditOutcome;
  readonly reason: string | null;
  resolve(event: AuditEventRecord): void;
  reject(error: unknown): void;
}

/**
 * Appends audit events: the change and its event in one transaction, reads and refusals each in a
 * transaction of their own. If an event cannot be written the call fails (fail closed).
 */
/** One chain's part of a batch: its reference and the drafts' fields, with their index in the batch. */
interface ChainDrafts {
  readonly ref: AuditChainRef;
  readonly items: { index: number; fields: Omit<AuditEventRecord, 'seq' | 'prevHash' | 'hash'> }[];
}

/** A chain's drafts hashed into events after `head`, and the head they lead to. */
function chainedEvents(head: AuditHead, chain: ChainDrafts): { events: AuditEventRecord[]; tip: AuditHead } {
  let tip = head;
  const events = chain.items.map(({ fields }) => {
    const event = chainEvent(tip, fields);
    tip = { seq: event.seq, hash: event.hash };
    return event;
  });
  return { events, tip };
}

export class AuditTrail {
  readonly #repository: Repository;
  readonly #clock: Clock;
  readonly #sink: AuditSink | null;
  readonly #metrics: Pick<MetricsSink, 'auditWriteFailed'>;
  readonly #queue: PendingAppend[] = [];
  /**
   * On an engine whose transactions overlap (PostgreSQL), changes of this process append to each
   * of its change chains one transaction at a time, from the append to the end of the transaction
   * (a turn per chain, so per tenant: other tenants' changes do not wait). Without it, concurrent
   * changes guessed the same head, waited on its row lock, found it moved and re-read it under lock:
   * most of a write's time under load was that dance (pg_stat_activity, BENCHMARKS.md). With it the
   * remembered head is the committed one, and the head row is never waited on by this process.
   * Everything before the append (the change itself) still runs concurrently.
   */
  readonly #changeTurns = new KeyedTurnstile();
  #draining = false;
  readonly #writerId: string;
  /**
   * The head of each chain this writer owns, as of its newest append. A guess, never trusted: the
   * head update in the database is conditional on it (`advanceAuditHead`), and a chain whose
   * transaction failed or whose outcome is unknown is forgotten here, so the next append re-reads its
   * head inside its own transaction.
   */
  readonly #heads = new Map<string, AuditHead>();
  /**
   * The failures this trail has handled, by identity: the core rethrows a caller's error as it is
   * (whatever it is, a domain error or a bug's TypeError), so the record cannot travel inside it.
   */
  readonly #failures = new WeakMap<object, FailureRecord>();
  /** Told of each committed batch of events, after the commit (the change feed's local wake-ups). */
  readonly #committed = new Set<(events: readonly AuditEventRecord[]) => void>();
  /**
   * Per change chain of this writer with changes in flight (appended in a transaction that has not
   * ended yet): how many, and the newest seq of the chain known to be committed and durable (announced,
   * or there before the first of them). A COMMIT can be visible before it is durable (SQLite syncs the
   * WAL after it) and before its writer is answered: the change feed reads no further (`announcedUpTo`).
   */
  readonly #inFlight = new Map<string, { changes: number; durableUpTo: number }>();

  constructor(deps: {
    repository: Repository;
    clock: Clock;
    sink?: AuditSink;
    metrics?: Pick<MetricsSink, 'auditWriteFailed'>;
    /** This process's writer identity; a fresh random one by default (`newWriterId`). */
    writerId?: string;
  }) {
    this.#writerId = deps.writerId ?? newWriterId();
    this.#repository = deps.repository;
    this.#clock = deps.clock;
    this.#sink = deps.sink ?? null;
    this.#metrics = deps.metrics ?? NO_METRICS;
  }

  /**
   * Calls `listener` with each batch of events this trail has committed, after the commit (never for a
   * rolled-back change). It must be cheap and must not throw: it runs on the writer's path. Answers
   * the function that stops it.
   */
  onCommitted(listener: (events: readonly AuditEventRecord[]) => void): () => void {
    this.#committed.add(listener);
    return () => this.#committed.delete(listener);
  }

  /**
   * For a chain of this writer with a change in flight: the newest seq of it that is committed,
   * durable and announced; undefined otherwise (then every event the database shows is). What lies
   * past it may be committed but not durable yet, or durable and not yet answered or announced.
   */
  announcedUpTo(chainId: string): number | undefined {
    return this.#inFlight.get(chainId)?.durableUpTo;
  }

  /** Whether `chainId` is one of this writer's chains (no other process appends to it). */
  ownsChain(chainId: string): boolean {
    return chainId.startsWith(`${this.#writerId}/`);
  }

  /** The writer identity whose chains this trail appends to. */
  get writerId(): string {
    return this.#writerId;
  }

  /** Whether this trail wrote (or failed to write) the event of the call `error` ended; null if neither. */
  recordOf(error: unknown): FailureRecord | null {
    if (typeof error !== 'object' || error === null) return null;
    return this.#failures.get(error) ?? null;
  }

  #mark<E>(error: E, record: FailureRecord): E {
    if (typeof error === 'object' && error !== null) this.#failures.set(error, record);
    return error;
  }

  /**
   * Counts the failure (coffer_audit_write_failures_total) and fails the call closed; a facade must
   * not try the write again as a refusal.
   */
  #unavailable(): UnavailableError {
    this.#metrics.auditWriteFailed();
    return this.#mark(auditUnavailable(), 'recorded');
  }

  /**
   * Runs a change in one transaction and appends its events (by default `entry`, allowed) in the same
   * transaction, last; so the change is committed if and only if its events are. A failure is
   * recorded on its own (nothing of the change is left to join), then rethrown.
   */
  async change<T>(
    ctx: CallContext,
    entry: AuditEntry,
    fn: (tx: RepositoryTx) => Promise<T>,
    entriesOf: (result: T) => readonly AuditEntry[] = () => [entry],
  ): Promise<T> {
    let appending = false;
    let appended: AuditEventRecord[] = [];
    const touched = new Set<string>();
    // The chains this call counts as having a change in flight (#inFlight), until it ends.
    const counted = new Set<string>();
    let result: T;
    // This process's change-lane turn, held from the append to the end of the transaction.
    let turn: (() => void) | null = null;
    const endTurn = () => {
      turn?.();
      turn = null;
    };
    try {
      result = await this.#repository.transaction(async (tx) => {
        // An engine may run the callback again (a serialization failure): a turn ends with its attempt.
        endTurn();
        appending = false;
        // What the change did, exactly, for its events' resource detail (the change feed's names).
        const recorder = new ChangeRecorder();
        const value = await fn(recorder.wrap(tx));
        appending = true;
        const drafts = entriesOf(value).map((e) => ({
          ctx,
          entry: recorder.detailed(e),
          outcome: 'allowed' as const,
          reason: null,
        }));
        const announced = drafts.filter((d) =>
          mayRecordChange({ action: d.entry.action, outcome: 'allowed' }),
        );
        if (announced.length > 0) {
          await tx.announceChanges(announced.map((d) => placeEntry(d.ctx.actor, d.entry).tenantId));
        }
        if (this.#repository.concurrentTransactions && drafts.length > 0) {
          const chains = drafts.map((d) =>
            chainIdOf(this.#writerId, 'c', placeEntry(d.ctx.actor, d.entry).tenantId),
          );
          turn = await this.#changeTurns.take(chains);
        }
        try {
          appended = await this.#append(tx, 'c', drafts, touched);
          this.#countInFlight(appended, counted);
        } catch (error) {
          // A failed attempt gives its turns back at once: the engine may wait (a backoff, a pooled
          // connection) before running this callback again, and nobody must wait behind that.
          endTurn();
          throw error;
        }
        appending = false;
        return value;
      });
    } catch (error) {
      // The change rolled back with its events (or its outcome is unknown): forget the heads it moved.
      this.#forget(touched);
      this.#endInFlight(counted, []);
      endTurn();
      if (appending) throw this.#unavailable();
      return this.#refuse(ctx, entry, error);
    }
    endTurn();
    this.#endInFlight(counted, appended);
    this.#publish(appended);
    return result;
  }

  /**
   * Counts a change in flight on each chain of `events` (once per call: `counted`). The first one in
   * flight on a chain takes the seq before its first event as what is durable: nothing of this writer
   * is in flight there, and other writers never append to its chains.
   */
  #countInFlight(events: readonly AuditEventRecord[], counted: Set<string>): void {
    for (const event of events) {
      if (counted.has(event.chainId)) continue;
      counted.add(event.chainId);
      const state = this.#inFlight.get(event.chainId);
      if (state === undefined) this.#inFlight.set(event.chainId, { changes: 1, durableUpTo: event.seq - 1 });
      else state.changes += 1;
    }
  }

  /**
   * Ends a call's changes in flight: its committed `events` (none if it failed) are durable now, and
   * announced right after. A failed one's outcome may be unknown (PostgreSQL: a connection lost during
   * COMMIT); once nothing is in flight on the chain, the database's head is read as it is, which on
   * PostgreSQL shows only durable commits.
   */
  #endInFlight(counted: ReadonlySet<string>, events: readonly AuditEventRecord[]): void {
    for (const event of events) {
      const state = this.#inFlight.get(event.chainId);
      if (state !== undefined) state.durableUpTo = Math.max(state.durableUpTo, event.seq);
    }
    for (const chainId of counted) {
      const state = this.#inFlight.get(chainId);
      if (state === undefined) continue;
      state.changes -= 1;
      if (state.changes <= 0) this.#inFlight.delete(chainId);
    }
  }

  /** Checks made before any transaction (permission, names, sizes): a refusal is recorded, then rethrown. */
  async check(ctx: CallContext, entry: AuditEntry, fn: () => void): Promise<void> {
    try {
      fn();
    } catch (error) {
      await this.#refuse(ctx, entry, error);
    }
  }

  /**
   * A read: runs `fn`, then appends its allowed events (by default `entry`; `entriesOf` names what
   * the result disclosed) in a transaction of their own before the result may leave the core (a
   * value is never returned unrecorded). A failure is recorded likewise, as `entry`.
   */
  async read<T>(
    ctx: CallContext,
    entry: AuditEntry,
    fn: () => Promise<T>,
    discard?: (unrecorded: T) => void,
    entriesOf: (result: T) => readonly AuditEntry[] = () => [entry],
  ): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      return this.#refuse(ctx, entry, error);
    }
    try {
      await this.#appendAlone(ctx, entriesOf(result), 'allowed', null);
    } catch (error) {
      discard?.(result);
      throw error;
    }
    return result;
  }

  /**
   * Records a call refused or failed before it reached a service (facades: no credential, a schema
   * error). Throws the audit-unavailable error when the event cannot be written; the facade logs it.
   */
  async refusal(
    subject: AuditSubject,
    entry: AuditEntry,
    outcome: AuditOutcome,
    reason: string,
  ): Promise<void> {
    await this.#appendAlone(subject, [entry], outcome, reason);
  }

  async #refuse(ctx: CallContext, entry: AuditEntry, error: unknown): Promise<never> {
    if (this.recordOf(error) !== null) throw error;
    const { outcome, reason } = outcomeOfError(error);
    let record: FailureRecord = 'recorded';
    try {
      await this.#appendAlone(ctx, [entry], outcome, reason);
    } catch {
      this.#metrics.auditWriteFailed();
      record = 'lost';
    }
    throw this.#mark(error, record);
  }

  /**
   * An event with no change to join (a read, a refusal). Such events are group-committed: while one
   * transaction of them commits, the next ones queue and then share a single transaction (one
   * multi-row INSERT, one head update per chain; each caller still waits for the commit that holds
   * its event). On SQLite with
   * `synchronous=FULL` that is one fsync per batch instead of one per read.
   */
  async #appendAlone(
    ctx: AuditSubject,
    entries: readonly AuditEntry[],
    outcome: AuditOutcome,
    reason: string | null,
  ): Promise<void> {
    const pending = entries.map(
      (entry) =>
        new Promise<AuditEventRecord>((resolve, reject) => {
          this.#queue.push({ ctx, entry, outcome, reason, resolve, reject });
        }),
    );
    if (!this.#draining) void this.#drain();
    let appended: AuditEventRecord[];
    try {
      appended = await Promise.all(pending);
    } catch {
      throw this.#unavailable();
    }
    this.#publish(appended);
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        const touched = new Set<string>();
        try {
          const events =
            (await this.#appendInOneStep(batch, touched)) ??
            (await this.#repository.transaction((tx) => this.#append(tx, 'r', batch, touched)));
          batch.forEach((job, i) => {
            const event = events[i];
            if (event === undefined) job.reject(new Error('audit: no event appended'));
            else job.resolve(event);
          });
        } catch (error) {
          this.#forget(touched);
          for (const job of batch) job.reject(error);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #forget(chains: ReadonlySet<string>): void {
    for (const chainId of chains) this.#heads.delete(chainId);
  }

  /**
   * Appends the drafts' events to this writer's chains of `lane`, inside `tx`: per chain, the head
   * update, conditional on the head this trail remembers (re-read in the transaction when it is
   * unknown or stale), with the chain's events (`appendToChain`: one statement on PostgreSQL). Returns them in the drafts' order;
   * `touched` collects the chains whose remembered head moved, to be forgotten if `tx` fails.
   */
  /** The drafts' events-to-be, by chain of this writer in `lane`, each with its draft's index. */
  #byChain(
    lane: Lane,
    drafts: readonly Omit<PendingAppend, 'resolve' | 'reject'>[],
  ): Map<string, ChainDrafts> {
    const time = this.#clock.now();
    const byChain = new Map<string, ChainDrafts>();
    drafts.forEach((d, index) => {
      const { tenantId, resource } = placeEntry(d.ctx.actor, d.entry);
      const chainId = chainIdOf(this.#writerId, lane, tenantId);
      let chain = byChain.get(chainId);
      if (chain === undefined) {
        chain = { ref: { chainId, tenantId, writerId: this.#writerId }, items: [] };
        byChain.set(chainId, chain);
      }
      chain.items.push({
        index,
        fields: {
          chainId,
          tenantId,
          time,
          actor: d.ctx.actor === null ? 'anonymous' : actorLabel(d.ctx.actor),
          action: d.entry.action,
          resource,
          outcome: d.outcome,
          reason: d.reason,
          requestId: d.ctx.requestId,
          clientAddress: d.ctx.clientAddress,
        },
      });
    });
    return byChain;
  }

  /**
   * A batch of reads and refusals whose events all go to one chain whose head this writer knows (the
   * steady state): appended by the engine in one step outside any transaction (PostgreSQL: one
   * statement, one round trip instead of four). Null when the batch is not such a one, or the head
   * turned out stale: the caller then appends in a transaction, which reads the head under lock.
   */
  async #appendInOneStep(
    drafts: readonly Omit<PendingAppend, 'resolve' | 'reject'>[],
    touched: Set<string>,
  ): Promise<AuditEventRecord[] | null> {
    const byChain = this.#byChain('r', drafts);
    if (byChain.size !== 1) return null;
    const [[chainId, chain]] = [...byChain] as [[string, ChainDrafts]];
    const head = this.#heads.get(chainId);
    if (head === undefined) return null;
    const { events, tip } = chainedEvents(head, chain);
    touched.add(chainId);
    if (!(await this.#repository.appendToChain(chain.ref, head, tip, events))) {
      this.#heads.delete(chainId);
      return null;
    }
    this.#heads.set(chainId, tip);
    // One chain: its items are the drafts, in order.
    return events;
  }

  async #append(
    tx: RepositoryTx,
    lane: Lane,
    drafts: readonly Omit<PendingAppend, 'resolve' | 'reject'>[],
    touched: Set<string>,
  ): Promise<AuditEventRecord[]> {
    const byChain = this.#byChain(lane, drafts);
    const out: (AuditEventRecord | undefined)[] = drafts.map(() => undefined);
    // A fixed order of chains: two transactions of this process never wait on each other in a cycle.
    for (const chainId of [...byChain.keys()].sort()) {
      const chain = byChain.get(chainId);
      if (chain === undefined) continue;
      let head = this.#heads.get(chainId) ?? null;
      for (let attempt = 0; ; attempt++) {
        // Unknown or stale: take the head row (its lock only ever waits for this process) and read it.
        head ??= (await tx.lockAuditHead(chainId)) ?? { seq: 0, hash: GENESIS_HASH };
        const { events, tip } = chainedEvents(head, chain);
        touched.add(chainId);
        if (await tx.appendToChain(chain.ref, head, tip, events)) {
          this.#heads.set(chainId, tip);
          chain.items.forEach(({ index }, i) => {
            out[index] = events[i];
          });
          break;
        }
        // The remembered head was stale (a transaction of this process that failed, or one that
        // committed after this guess was taken), or another transaction of this process created the
        // chain first: lock and read the head. Once locked it cannot move, so this ends at once.
        if (attempt >= HEAD_RETRIES) throw new Error('audit: the chain head kept moving');
        head = null;
      }
    }
    return out.filter((e): e is AuditEventRecord => e !== undefined);
  }

  #publish(events: readonly AuditEventRecord[]): void {
    if (events.length === 0) return;
    for (const listener of this.#committed) {
      try {
        listener(events);
      } catch {
        // Committed already: a listener's failure is not the change's.
      }
    }
    if (this.#sink === null) return;
    try {
      this.#sink(events);
    } catch {
      // Committed already: the stream is a copy, and the database the record.
    }
  }
}

/**
 * Whose trail an event joins. A tenant key's events always go to its own tenant's chains, even when it
 * addressed another tenant (then named in the resource): a key can never write into a chain that is
 * not its tenant's, and key names (unique per tenant only) stay unambiguous.
 */
function placeEntry(actor: Actor | null, entry: AuditEntry): { tenantId: string; resource: string } {
  const addressed = entry.tenantId;
  const elsewhere = () =>
    `tenant:${addressed === PLATFORM_CHAIN ? 'platform' : safeName(addressed)}/${entry.resource}`;
  if (actor?.kind === 'api_key' && actor.tenantId !== addressed) {
    return { tenantId: actor.tenantId, resource: elsewhere() };
  }
  // Unauthenticated callers, and tenant ids that are not ids (a service's malformed path), can
  // never open a chain of their own: they go to the platform chain.
  if (actor === null || (addressed !== PLATFORM_CHAIN && !isTenantId(addressed))) {
    return {
      tenantId: PLATFORM_CHAIN,
      resource: addressed === PLATFORM_CHAIN ? entry.resource : elsewhere(),
    };
  }
  return { tenantId: addressed, resource: entry.resource };
}
