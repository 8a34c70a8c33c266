import type { Repository, RepositoryReads } from './ports/repository.js';
import { auditHash, byChainId, GENESIS_HASH } from './audit-chain.js';
import {
  CHECKPOINT_GENESIS,
  CHECKPOINT_TYPE,
  CHECKPOINT_VERSION,
  type CheckpointEntry,
  type CheckpointSigner,
  type CheckpointStatement,
  checkpointHash,
  checkpointLine,
  parseCheckpointLine,
  type SignedCheckpoint,
  signCheckpoint,
  signedCheckpointBytes,
} from './audit-checkpoint.js';
import type { Clock } from './clock.js';
import type { AuditHead } from './model.js';

/**
 * Where checkpoints go: somewhere the database's writers cannot rewrite (docs/adr/0013-audit-anchors.md).
 * `write` resolves once the line is durable there (or handed on); a rejection leaves the checkpoint
 * to be shipped again before the next one.
 */
export interface CheckpointSink {
  /** For messages: `file /var/log/coffer/anchors.jsonl`, `stdout`. */
  readonly name: string;
  write(checkpoint: SignedCheckpoint, line: string): Promise<void>;
}

/** A chain's committed head, as a checkpoint states it. */
export interface ChainHead {
  readonly chainId: string;
  readonly tenantId: string;
  readonly seq: number;
  readonly hash: Buffer;
}

/**
 * Every chain's committed head, sorted by chain id (ADR 0011: several chains per tenant, opaque ids),
 * from the heads alone (no scan of the events). A chain whose head row is gone is not stated; verify
 * reports it as broken anyway. An empty chain is left out.
 */
export async function listChainHeads(reads: Pick<RepositoryReads, 'listAuditChains'>): Promise<ChainHead[]> {
  const out: ChainHead[] = [];
  for (const chain of await reads.listAuditChains()) {
    if (chain.head !== null && chain.head.seq > 0) {
      out.push({ chainId: chain.chainId, tenantId: chain.tenantId, ...chain.head });
    }
  }
  return out.sort(byChainId);
}

/** What one pruning run did, chain by chain. */
export interface PruneReport {
  /** Events deleted in all. */
  readonly events: number;
  /** Chains that now start after a prune point they did not have before this run. */
  readonly chains: readonly {
    readonly chainId: string;
    readonly tenantId: string;
    readonly through: number;
  }[];
  /** Chains not pruned because they do not verify up to the checkpointed head (evidence is kept). */
  readonly refused: readonly {
    readonly chainId: string;
    readonly tenantId: string;
    readonly problem: string;
  }[];
}

/** A checkpoint that sinks failed to take, with the sinks still owed it. */
interface Unshipped {
  readonly checkpoint: SignedCheckpoint;
  readonly line: string;
  readonly sinks: readonly CheckpointSink[];
}

export class CheckpointShippingError extends Error {
  constructor(
    readonly seq: number,
    readonly failures: readonly { sink: string; message: string }[],
  ) {
    super(
      `checkpoint ${seq} could not be written to ${failures.map((f) => `${f.sink} (${f.message})`).join(', ')}`,
    );
    this.name = 'CheckpointShippingError';
  }
}

/** Events walked per page, and deleted per transaction, when pruning. */
const PAGE = 1_000;

/**
 * Makes signed checkpoints of every chain's head and prunes behind them (docs/audit.md,
 * "Anchors" and "Retention"). One instance per process; its calls run one at a time. Several
 * processes may checkpoint one database: the checkpoint seq is claimed in the database first, so
 * the numbering never forks.
 */
export class AuditAnchoring {
  readonly #repository: Repository;
  readonly #signer: CheckpointSigner;
  readonly #sinks: readonly CheckpointSink[];
  readonly #clock: Clock;
  readonly #retentionMs: number | null;
  #unshipped: Unshipped | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: {
    repository: Repository;
    signer: CheckpointSigner;
    sinks: readonly CheckpointSink[];
    clock: Clock;
    /** COFFER_AUDIT_RETENTION in ms; null: nothing is pruned. */
    retentionMs: number | null;
  }) {
    this.#repository = deps.repository;
    this.#signer = deps.signer;
    this.#sinks = deps.sinks;
    this.#clock = deps.clock;
    this.#retentionMs = deps.retentionMs;
  }

  get retentionMs(): number | null {
    return this.#retentionMs;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Signs the current head of every chain and ships it to every sink. A checkpoint some sink did not
   * take is shipped again first (the sequence in the sinks must have no gap); until it is, no new
   * one is made and this throws.
   */
  checkpoint(): Promise<SignedCheckpoint> {
    return this.#serial(() => this.#checkpoint());
  }

  /** A checkpoint, then (with a retention configured) pruning behind it. */
  checkpointAndPrune(): Promise<{ checkpoint: SignedCheckpoint; pruned: PruneReport | null }> {
    return this.#serial(async () => {
      const checkpoint = await this.#checkpoint();
      const pruned = this.#retentionMs === null ? null : await this.#prune(checkpoint, this.#retentionMs);
      return { checkpoint, pruned };
    });
  }

  async #ship(u: Unshipped): Promise<void> {
    const failures: { sink: CheckpointSink; message: string }[] = [];
    for (const sink of u.sinks) {
      try {
        await sink.write(u.checkpoint, u.line);
      } catch (error) {
        failures.push({ sink, message: error instanceof Error ? error.message : String(error) });
      }
    }
    if (failures.length > 0) {
      this.#unshipped = { ...u, sinks: failures.map((f) => f.sink) };
      throw new CheckpointShippingError(
        u.checkpoint.seq,
        failures.map((f) => ({ sink: f.sink.name, message: f.message })),
      );
    }
    this.#unshipped = null;
  }

  async #checkpoint(): Promise<SignedCheckpoint> {
    if (this.#unshipped !== null) await this.#ship(this.#unshipped);
    for (let attempt = 1; ; attempt++) {
      const latest = await this.#repository.getLatestAuditCheckpoint();
      const heads = await listChainHeads(this.#repository);
      const chains: CheckpointEntry[] = heads.map((h) => ({
        chain: h.chainId,
        tenant: h.tenantId,
        seq: h.seq,
        hash: h.hash.toString('hex'),
      }));
      const now = this.#clock.now();
      const statement: CheckpointStatement = {
        type: CHECKPOINT_TYPE,
        version: CHECKPOINT_VERSION,
        seq: (latest?.seq ?? 0) + 1,
        time: new Date(now).toISOString(),
        prev: latest?.hash ?? CHECKPOINT_GENESIS,
        key: this.#signer.keyId,
        chains,
      };
      const checkpoint = signCheckpoint(statement, this.#signer);
      const line = checkpointLine(checkpoint);
      // Claimed before it is shipped: two processes checkpointing at once cannot both ship a number.
      const claimed = await this.#repository.transaction((tx) =>
        tx.recordAuditCheckpoint({ seq: checkpoint.seq, hash: checkpointHash(checkpoint), time: now, line }),
      );
      if (!claimed) {
        if (attempt < 5) continue;
        throw new Error('another process keeps taking the next checkpoint number; try again');
      }
      await this.#ship({ checkpoint, line, sinks: this.#sinks });
      return checkpoint;
    }
  }

  /**
   * Deletes, chain by chain, the events older than the retention that the checkpoint covers, never
   * the checkpointed event itself (so every chain keeps an event, and what remains starts at or
   * before a checkpointed head). A chain is first walked from its prune point to a head a signed
   * checkpoint states (the first one made after the cutoff, else this one): one that does not link
   * there is not pruned, so pruning never destroys evidence of tampering.
   */
  async #prune(checkpoint: SignedCheckpoint, retentionMs: number): Promise<PruneReport> {
    const cutoff = this.#clock.now() - retentionMs;
    const reads = this.#repository;
    // The first checkpoint made at or after the cutoff states, per chain, a head at or after its
    // last old event: walking up to it (not to the newest head) bounds each run's reading to what
    // became old since the last run, plus about one interval. Signed by this key, or not used.
    const boundary = await this.#checkpointSince(cutoff);
    let events = 0;
    const chains: { chainId: string; tenantId: string; through: number }[] = [];
    const refused: { chainId: string; tenantId: string; problem: string }[] = [];
    for (const entry of checkpoint.chains) {
      const chainId = entry.chain;
      const stated = boundary?.chains.find((c) => c.chain === chainId && c.seq <= entry.seq) ?? entry;
      const from = (await reads.getAuditPrunePoint(chainId)) ?? { seq: 0, hash: GENESIS_HASH };
      const [young] = await reads.listAuditEvents({
        chainId,
        direction: 'asc',
        afterSeq: from.seq,
        since: cutoff,
        limit: 1,
      });
      const target = Math.min(stated.seq - 1, young === undefined ? stated.seq - 1 : young.seq - 1);
      if (target <= from.seq) continue;
      // Walk from the prune point to the stated head, keeping a (seq, hash) per page to cut at.
      const cuts: AuditHead[] = [];
      let prev = from.hash;
      let expected = from.seq + 1;
      let problem: string | null = null;
      while (problem === null && expected <= stated.seq) {
        const page = await reads.listAuditEvents({
          chainId,
          direction: 'asc',
          afterSeq: expected - 1,
          limit: Math.min(PAGE, stated.seq - expected + 1),
        });
        if (page.length === 0) problem = `its events end at seq ${expected - 1}`;
        for (const e of page) {
          if (e.seq !== expected || !e.prevHash.equals(prev) || !auditHash(prev, e).equals(e.hash)) {
            problem = `it does not verify at seq ${e.seq}`;
            break;
          }
          prev = e.hash;
          expected++;
          if (e.seq === target || (e.seq < target && (e.seq - from.seq) % PAGE === 0)) {
            cuts.push({ seq: e.seq, hash: e.hash });
          }
        }
      }
      if (problem === null && prev.toString('hex') !== stated.hash) {
        problem = `its event ${stated.seq} is not the one a signed checkpoint states`;
      }
      if (problem !== null) {
        refused.push({ chainId, tenantId: entry.tenant, problem });
        continue;
      }
      for (const cut of cuts) {
        events += await this.#repository.transaction((tx) => tx.pruneAuditEvents(chainId, cut));
      }
      chains.push({ chainId, tenantId: entry.tenant, through: target });
    }
    return { events, chains, refused };
  }

  /** The first recorded checkpoint made at or after `time`, if this key signed it; else null. */
  async #checkpointSince(time: number): Promise<SignedCheckpoint | null> {
    const recorded = await this.#repository.getAuditCheckpointSince(time);
    if (recorded === null) return null;
    const parsed = parseCheckpointLine(recorded.line);
    if (parsed === null || typeof parsed === 'string' || parsed.key !== this.#signer.keyId) return null;
    return this.#signer.verify(signedCheckpointBytes(parsed), Buffer.from(parsed.signature, 'base64'))
      ? parsed
      : null;
  }
}
