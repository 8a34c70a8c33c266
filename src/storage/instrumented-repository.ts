import type { Repository } from '../core/ports/repository.js';
import { forwardingClass } from './forwarding-class.js';
import { repositoryReadMethods } from './repository-reads-forwarder.js';

/** Where database timings go (coffer_db_operation_duration_seconds); storage imports no metrics library. */
export interface DbTimer {
  /** `operation` is a Repository method name or `transaction`: a small, fixed set of label values. */
  observeDb(operation: string, seconds: number): void;
}

type TimedOperation = keyof typeof timedOperations;

/** Every read, `transaction`, `appendToChain` and `ping`; the label value is the method's name. */
const timedOperations = {
  ...repositoryReadMethods,
  transaction: true,
  appendToChain: true,
  ping: true,
} as const;

const TimedCalls = forwardingClass<Repository, TimedOperation>(timedOperations);

/**
 * The same Repository contract, timing every call into the engine. Reads outside a transaction are
 * timed one by one; a transaction is timed as a whole (`transaction`, waiting for the writer
 * included) and the calls inside it are not, which keeps the cost to two clock reads per call.
 * `credentialsEpoch` runs on every request and is a memory read: it is passed through untimed, and
 * so is `close`.
 */
export class InstrumentedRepository extends TimedCalls implements Repository {
  readonly engine: Repository['engine'];
  readonly concurrentTransactions: boolean;
  readonly #inner: Repository;
  /** Passed through, untimed, where the engine has it (SQLite). */
  readonly syncVisibleCommits?: () => Promise<void>;

  constructor(inner: Repository, timer: DbTimer) {
    super(inner, async (operation, call) => {
      // The global, not an import of node:perf_hooks: the CLI's bundle would load that for every command.
      const start = performance.now();
      try {
        return await call();
      } finally {
        timer.observeDb(operation, (performance.now() - start) / 1000);
      }
    });
    this.engine = inner.engine;
    this.concurrentTransactions = inner.concurrentTransactions;
    this.#inner = inner;
    const sync = inner.syncVisibleCommits;
    if (sync !== undefined) this.syncVisibleCommits = () => sync.call(inner);
  }

  credentialsEpoch(): number {
    return this.#inner.credentialsEpoch();
  }

  /** Passed through, untimed: a flag the webhook worker reads on every tick. */
  writerBusy(): boolean {
    return this.#inner.writerBusy();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
