import { createHash } from 'node:crypto';
import type { RepositoryReads } from './ports/repository.js';
import type { AuditEventRecord, AuditHead } from './model.js';

/**
 * The hash chains of audit events (docs/audit.md, ADR 0011). A tenant's trail is a set of chains;
 * in each, event n stores the hash of event n-1 (`prevHash`) and its own
 * `hash = SHA-256(prevHash || canonical form)`, so an edited, deleted or reordered row breaks the
 * chain from that point on, and the chain's head (kept in its own table) catches a deleted tail.
 */

/** The `prevHash` of a chain's first event. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

export type AuditFields = Omit<AuditEventRecord, 'prevHash' | 'hash'>;

/**
 * The canonical form's version, which is part of what is hashed. 1: chains written before schema 3,
 * whose id is their tenant id (the id is not hashed; the tenant id is). 2: every chain opened since,
 * whose id (never a tenant id: it holds a `/`) is hashed too, so an event cannot move between chains.
 */
export function canonicalFormOf(e: Pick<AuditFields, 'chainId' | 'tenantId'>): 1 | 2 {
  return e.chainId === e.tenantId ? 1 : 2;
}

/**
 * A JSON array in fixed field order: JSON.stringify is deterministic for strings, integers and null,
 * so this is the same bytes on every node and in every language that re-implements the check.
 */
export function canonicalAuditForm(e: AuditFields): string {
  const tail = [
    e.tenantId,
    e.seq,
    e.time,
    e.actor,
    e.action,
    e.resource,
    e.outcome,
    e.reason,
    e.requestId,
    e.clientAddress,
  ];
  return JSON.stringify(canonicalFormOf(e) === 1 ? [1, ...tail] : [2, e.chainId, ...tail]);
}

export function auditHash(prevHash: Buffer, e: AuditFields): Buffer {
  return createHash('sha256').update(prevHash).update(canonicalAuditForm(e), 'utf8').digest();
}

/** The next link after `head`. */
export function chainEvent(head: AuditHead, fields: Omit<AuditFields, 'seq'>): AuditEventRecord {
  const withSeq: AuditFields = { ...fields, seq: head.seq + 1 };
  return { ...withSeq, prevHash: head.hash, hash: auditHash(head.hash, withSeq) };
}

/** Ordinal order of chain ids (as the engines sort them: byte-wise). */
export function byChainId(a: { readonly chainId: string }, b: { readonly chainId: string }): number {
  return a.chainId < b.chainId ? -1 : a.chainId > b.chainId ? 1 : 0;
}

export type ChainCheck =
  | {
      readonly ok: true;
      readonly chainId: string;
      readonly tenantId: string;
      /** Events present and verified (after the prune point). */
      readonly events: number;
      readonly head: AuditHead;
      /**
       * Where the stored events start from: seq 0 and GENESIS_HASH, or the prune point (the newest
       * pruned event's seq and hash), which only a signed checkpoint can vouch for (verify --anchors).
       */
      readonly from: AuditHead;
    }
  | {
      readonly ok: false;
      readonly chainId: string;
      readonly tenantId: string;
      readonly seq: number;
      readonly problem: string;
    };

const BATCH = 1_000;

/**
 * Walks one chain from its first stored event (seq 1, or the one after its prune point) to its
 * head; names the first event that does not verify. `tenantId` is the tenant its head row names:
 * every event must name it too. Safe while the chain's owner keeps appending: the head is read
 * first and the walk stops there; events past it are accepted only if the head has moved on to cover
 * them since (appended meanwhile, checked next time). Safe while pruning runs: a break found after
 * the prune point moved is walked again from the new one.
 */
export async function verifyChain(
  reads: Pick<RepositoryReads, 'listAuditEvents' | 'getAuditHead' | 'getAuditPrunePoint'>,
  chain: { readonly chainId: string; readonly tenantId: string },
): Promise<ChainCheck> {
  const { chainId } = chain;
  const prunePoint = async (): Promise<AuditHead> =>
    (await reads.getAuditPrunePoint(chainId)) ?? { seq: 0, hash: GENESIS_HASH };
  for (let attempt = 0; ; attempt++) {
    const from = await prunePoint();
    const check = await walk(reads, chain, from, attempt);
    if (check === 'again') continue;
    if (!check.ok && attempt === 0 && (await prunePoint()).seq !== from.seq) continue;
    return check;
  }
}

async function walk(
  reads: Pick<RepositoryReads, 'listAuditEvents' | 'getAuditHead'>,
  chain: { readonly chainId: string; readonly tenantId: string },
  from: AuditHead,
  attempt: number,
): Promise<ChainCheck | 'again'> {
  const { chainId, tenantId } = chain;
  const broken = (seq: number, problem: string): ChainCheck => ({
    ok: false,
    chainId,
    tenantId,
    seq,
    problem,
  });
  const head = await reads.getAuditHead(chainId);
  const last = head?.seq ?? Number.MAX_SAFE_INTEGER;
  let expected = from.seq + 1;
  let prev = from.hash;
  while (expected <= last) {
    const page = await reads.listAuditEvents({
      chainId,
      direction: 'asc',
      afterSeq: expected - 1,
      limit: Math.min(BATCH, last - expected + 1),
    });
    for (const e of page) {
      if (e.seq !== expected) {
        return broken(e.seq, `expected seq ${expected} here: an event was deleted or moved`);
      }
      if (e.tenantId !== tenantId) {
        return broken(e.seq, `it names tenant '${e.tenantId}' but its chain belongs to '${tenantId}'`);
      }
      if (!e.prevHash.equals(prev)) {
        return broken(e.seq, 'its prev_hash is not the hash of the event before it (deleted or reordered)');
      }
      if (!auditHash(prev, e).equals(e.hash)) {
        return broken(e.seq, 'its hash does not match its contents (the event was edited)');
      }
      prev = e.hash;
      expected++;
    }
    if (page.length < BATCH) break;
  }
  if (from.seq > 0) {
    // Pruned events are gone; nothing may sit at or below the prune point either.
    const [first] = await reads.listAuditEvents({ chainId, direction: 'asc', limit: 1 });
    if (first !== undefined && first.seq <= from.seq) {
      return broken(first.seq, `it is at or below the prune point (seq ${from.seq})`);
    }
  }
  const end = expected - 1;
  const events = end - from.seq;
  if (head === null) {
    if (end === 0) return { ok: true, chainId, tenantId, events, head: { seq: 0, hash: GENESIS_HASH }, from };
    // A chain its owner created during the walk has a head now: walk again against it.
    if (attempt === 0 && (await reads.getAuditHead(chainId)) !== null) return 'again';
    return broken(end, 'the chain head is missing');
  }
  if (head.seq !== end || !head.hash.equals(prev)) {
    return broken(
      Math.min(head.seq, end + 1),
      `the chain head is at seq ${head.seq} but the events end at seq ${end} (the newest events were deleted or the head was edited)`,
    );
  }
  const [beyond] = await reads.listAuditEvents({ chainId, direction: 'asc', afterSeq: head.seq, limit: 1 });
  if (beyond !== undefined && ((await reads.getAuditHead(chainId))?.seq ?? 0) < beyond.seq) {
    return broken(beyond.seq, `it follows the chain head at seq ${head.seq} (the head was moved back)`);
  }
  return { ok: true, chainId, tenantId, events, head, from };
}
