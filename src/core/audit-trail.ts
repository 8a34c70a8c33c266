import { type MetricsSink, NO_METRICS } from './metrics-sink.js';
import type { Repository, RepositoryTx } from './ports/repository.js';
import { type Actor, actorLabel } from './actor.js';
import { safeName } from './audit-redaction.js';
import { chainEvent } from './audit-chain.js';
import type { CallContext } from './call-context.js';
import type { Clock } from './clock.js';
import { isCofferError, UnavailableError } from './errors.js';
import type { AuditEventRecord, AuditOutcome } from './model.js';
import { isTenantId } from './names.js';

/** The chain of platform-wide events: unauthenticated callers, service credentials. Never a tenant id. */
export const PLATFORM_CHAIN = '';

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
export class AuditTrail {
  readonly #repository: Repository;
  readonly #clock: Clock;
  readonly #sink: AuditSink | null;
  readonly #metrics: Pick<MetricsSink, 'auditWriteFailed'>;
  readonly #queue: PendingAppend[] = [];
  #draining = false;
  /**
   * The failures this trail has handled, by identity: the core rethrows a caller's error as it is
   * (whatever it is, a domain error or a bug's TypeError), so the record cannot travel inside it.
   */
  readonly #failures = new WeakMap<object, FailureRecord>();
  /** Told of each committed batch of events, after the commit (the change feed's local wake-ups). */
  readonly #committed = new Set<(events: readonly AuditEventRecord[]) => void>();

  constructor(deps: {
    repository: Repository;
    clock: Clock;
    sink?: AuditSink;
    metrics?: Pick<MetricsSink, 'auditWriteFailed'>;
  }) {
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
    let result: T;
    try {
      result = await this.#repository.transaction(async (tx) => {
        appending = false;
        const value = await fn(tx);
        appending = true;
        appended = await this.#append(tx, ctx, entriesOf(value), 'allowed', null);
        appending = false;
        return value;
      });
    } catch (error) {
      // The change rolled back with its events; if the events were what failed, say so.
      if (appending) throw this.#unavailable();
      return this.#refuse(ctx, entry, error);
    }
    this.#publish(appended);
    return result;
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
   * transaction of them commits, the next ones queue and then share a single transaction (each still
   * one INSERT, and each caller still waits for the commit that holds its event). On SQLite with
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
        // One chain after another, in a fixed order: two nodes' batches lock heads in the same order
        // and cannot deadlock. Within a chain, arrival order is kept (the sort is stable).
        const ordered = batch
          .map((job) => ({ job, chain: placeEntry(job.ctx.actor, job.entry).chain }))
          .sort((x, y) => (x.chain < y.chain ? -1 : x.chain > y.chain ? 1 : 0));
        try {
          const events = await this.#repository.transaction(async (tx) => {
            const out: AuditEventRecord[] = [];
            for (const { job } of ordered) {
              const [event] = await this.#append(tx, job.ctx, [job.entry], job.outcome, job.reason);
              if (event === undefined) throw new Error('audit: no event appended');
              out.push(event);
            }
            return out;
          });
          ordered.forEach(({ job }, i) => {
            const event = events[i];
            if (event === undefined) job.reject(new Error('audit: no event appended'));
            else job.resolve(event);
          });
        } catch (error) {
          for (const job of batch) job.reject(error);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  async #append(
    tx: RepositoryTx,
    ctx: AuditSubject,
    entries: readonly AuditEntry[],
    outcome: AuditOutcome,
    reason: string | null,
  ): Promise<AuditEventRecord[]> {
    const time = this.#clock.now();
    const actor = ctx.actor === null ? 'anonymous' : actorLabel(ctx.actor);
    const out: AuditEventRecord[] = [];
    for (const entry of entries) {
      const { chain, resource } = placeEntry(ctx.actor, entry);
      const head = await tx.lockAuditHead(chain);
      const event = chainEvent(head, {
        tenantId: chain,
        time,
        actor,
        action: entry.action,
        resource,
        outcome,
        reason,
        requestId: ctx.requestId,
        clientAddress: ctx.clientAddress,
      });
      await tx.appendAuditEvent(event);
      out.push(event);
    }
    return out;
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
 * Which chain an event joins. A tenant key's events always go to its own tenant's chain, even when it
 * addressed another tenant (then named in the resource): a key can never write into a chain that is
 * not its tenant's, and key names (unique per tenant only) stay unambiguous.
 */
function placeEntry(actor: Actor | null, entry: AuditEntry): { chain: string; resource: string } {
  const addressed = entry.tenantId;
  const elsewhere = () =>
    `tenant:${addressed === PLATFORM_CHAIN ? 'platform' : safeName(addressed)}/${entry.resource}`;
  if (actor?.kind === 'api_key' && actor.tenantId !== addressed) {
    return { chain: actor.tenantId, resource: elsewhere() };
  }
  // Unauthenticated callers, and tenant ids that are not ids (a service's malformed path), can
  // never open a chain of their own: they go to the platform chain.
  if (actor === null || (addressed !== PLATFORM_CHAIN && !isTenantId(addressed))) {
    return { chain: PLATFORM_CHAIN, resource: addressed === PLATFORM_CHAIN ? entry.resource : elsewhere() };
  }
  return { chain: addressed, resource: entry.resource };
}
