import type { RepositoryReads } from './ports/repository.js';
import type { ChainCheck } from './audit-chain.js';
import type { AuditHead } from './model.js';
import {
  CHECKPOINT_GENESIS,
  type CheckpointVerifier,
  checkpointHash,
  checkpointSignatureValid,
  parseCheckpointLine,
  type SignedCheckpoint,
} from './audit-checkpoint.js';

/**
 * `coffer audit verify --anchors`: the signed checkpoints shipped outside the database, checked as a
 * sequence (signatures, numbering, links), and the chains in the database checked against them
 * (docs/adr/0013-audit-anchors.md).
 */

/** Something wrong with the anchors themselves. */
export interface AnchorFileProblem {
  readonly kind:
    'malformed' | 'unknown-key' | 'bad-signature' | 'reordered' | 'forked' | 'missing' | 'unlinked';
  /** `file:line` when one line is at fault, else the checkpoint seq(s). */
  readonly where: string;
  readonly message: string;
}

export interface LoadedAnchors {
  /** Every checkpoint whose signature verifies, by seq ascending, each seq once. */
  readonly checkpoints: readonly SignedCheckpoint[];
  readonly problems: readonly AnchorFileProblem[];
}

/**
 * Reads anchors files (JSON lines; other lines, such as the log and audit events of a captured
 * stdout stream, are skipped). Within a file checkpoints must come in rising seq; across files a seq
 * may repeat only as the same checkpoint; together they must form one unbroken sequence linked by
 * `prev`. A checkpoint whose signature does not verify is reported and not used.
 */
export function loadAnchors(
  files: readonly { readonly name: string; readonly text: string }[],
  verifier: CheckpointVerifier,
): LoadedAnchors {
  const problems: AnchorFileProblem[] = [];
  const bySeq = new Map<number, SignedCheckpoint>();
  for (const file of files) {
    let lastSeq = 0;
    const lines = file.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const text = (lines[i] ?? '').trim();
      if (text === '') continue;
      const where = `${file.name}:${i + 1}`;
      const parsed = parseCheckpointLine(text);
      if (parsed === null) continue;
      if (typeof parsed === 'string') {
        problems.push({ kind: 'malformed', where, message: `a checkpoint line is malformed: ${parsed}` });
        continue;
      }
      if (!verifier.hasKey(parsed.key)) {
        problems.push({
          kind: 'unknown-key',
          where,
          message: `checkpoint ${parsed.seq} is signed by key ${parsed.key}, not one of the public keys given`,
        });
        continue;
      }
      if (!checkpointSignatureValid(parsed, verifier)) {
        problems.push({
          kind: 'bad-signature',
          where,
          message: `checkpoint ${parsed.seq}: the signature does not verify (the line was forged or edited)`,
        });
        continue;
      }
      if (parsed.seq <= lastSeq) {
        problems.push({
          kind: 'reordered',
          where,
          message: `checkpoint ${parsed.seq} comes after checkpoint ${lastSeq} (lines re-ordered or repeated)`,
        });
      }
      lastSeq = Math.max(lastSeq, parsed.seq);
      const seen = bySeq.get(parsed.seq);
      if (seen === undefined) bySeq.set(parsed.seq, parsed);
      else if (seen.signature !== parsed.signature && checkpointHash(seen) !== checkpointHash(parsed)) {
        problems.push({
          kind: 'forked',
          where,
          message: `two different checkpoints claim seq ${parsed.seq} (the checkpoint sequence forked)`,
        });
      }
    }
  }
  const checkpoints = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const first = checkpoints[0];
  if (first !== undefined && first.seq === 1 && first.prev !== CHECKPOINT_GENESIS) {
    problems.push({
      kind: 'unlinked',
      where: 'checkpoint 1',
      message: 'checkpoint 1 does not start the sequence',
    });
  }
  for (let i = 1; i < checkpoints.length; i++) {
    const before = checkpoints[i - 1];
    const c = checkpoints[i];
    if (before === undefined || c === undefined) continue;
    if (c.seq !== before.seq + 1) {
      problems.push({
        kind: 'missing',
        where: `checkpoints ${before.seq + 1}–${c.seq - 1}`,
        message: `checkpoint(s) ${before.seq + 1}–${c.seq - 1} are missing between ${before.seq} and ${c.seq} (removed, or never shipped here)`,
      });
    } else if (c.prev !== checkpointHash(before)) {
      problems.push({
        kind: 'unlinked',
        where: `checkpoint ${c.seq}`,
        message: `checkpoint ${c.seq} does not link to checkpoint ${before.seq} (its prev is another hash)`,
      });
    }
  }
  return { checkpoints, problems };
}

/** A chain that no longer holds what a checkpoint vouched for. */
export interface AnchoredProblem {
  readonly kind: 'deleted-chain' | 'truncated' | 'rewritten' | 'pruned-uncovered';
  readonly chainId: string;
  readonly tenantId: string;
  readonly message: string;
}

/** What the anchors vouch for, per chain in the database. */
export interface AnchoredChain {
  readonly chainId: string;
  /** The newest checkpoint stating this chain, and the seq it states; null: no checkpoint has it yet. */
  readonly covered: { readonly checkpoint: number; readonly seq: number } | null;
}

export interface AnchoredReport {
  readonly problems: readonly AnchoredProblem[];
  readonly chains: readonly AnchoredChain[];
}

/**
 * Compares the database with the checkpoints: every (chain, seq, hash) any checkpoint states must
 * still be there (or be at or below the chain's prune point, which a later checkpoint then vouches
 * for through the hash chain), and the chain must still link up to it. `checks` are verifyChain's
 * results for every chain in the database.
 */
export async function checkAgainstAnchors(
  reads: Pick<RepositoryReads, 'listAuditEvents' | 'getAuditPrunePoint'>,
  checkpoints: readonly SignedCheckpoint[],
  checks: readonly ChainCheck[],
): Promise<AnchoredReport> {
  const problems: AnchoredProblem[] = [];
  /** chain → seq → [checkpoint seq, hash] (the newest checkpoint stating that seq). */
  const stated = new Map<
    string,
    { tenant: string; seqs: Map<number, { checkpoint: number; hash: string }> }
  >();
  for (const c of checkpoints) {
    for (const e of c.chains) {
      const chain = stated.get(e.chain) ?? { tenant: e.tenant, seqs: new Map() };
      chain.tenant = e.tenant;
      chain.seqs.set(e.seq, { checkpoint: c.seq, hash: e.hash });
      stated.set(e.chain, chain);
    }
  }
  const inDatabase = new Map(checks.map((c) => [c.chainId, c]));
  for (const [chainId, { tenant, seqs }] of stated) {
    const newestSeq = Math.max(...seqs.keys());
    const newest = seqs.get(newestSeq);
    if (newest === undefined || newestSeq === 0) continue;
    const problem = (kind: AnchoredProblem['kind'], message: string) =>
      problems.push({ kind, chainId, tenantId: tenant, message });
    const check = inDatabase.get(chainId);
    if (check === undefined) {
      problem(
        'deleted-chain',
        `checkpoint ${newest.checkpoint} states it at seq ${newestSeq}, but the database has no such chain (it was deleted)`,
      );
      continue;
    }
    if (check.tenantId !== tenant) {
      problem(
        'rewritten',
        `checkpoint ${newest.checkpoint} states it as tenant '${tenant}'s, but the database gives it to '${check.tenantId}'`,
      );
      continue;
    }
    const prune = await reads.getAuditPrunePoint(chainId);
    const pruneSeq = prune?.seq ?? 0;
    const [last] = await reads.listAuditEvents({ chainId, direction: 'desc', limit: 1 });
    const lastSeq = last?.seq ?? pruneSeq;
    if (pruneSeq >= newestSeq) {
      problem(
        'pruned-uncovered',
        `its events up to seq ${pruneSeq} were removed, but pruning keeps every event from seq ${newestSeq} on (the newest checkpoint stating it, ${newest.checkpoint})`,
      );
    }
    if (lastSeq < newestSeq) {
      problem(
        'truncated',
        `checkpoint ${newest.checkpoint} states it at seq ${newestSeq}, but its events end at seq ${lastSeq} (the newest events were cut off)`,
      );
    }
    // A break at the cut itself is the truncation (a head left behind); one below it is a rewrite.
    if (!check.ok && check.seq <= Math.min(newestSeq, lastSeq)) {
      problem(
        'rewritten',
        `it does not verify at seq ${check.seq}, which checkpoint ${newest.checkpoint} covers (seq ${newestSeq}): ${check.problem}`,
      );
      continue;
    }
    // Newest first: the first mismatch found is the latest rewrite a checkpoint can show.
    const checked = [...seqs.keys()].filter((seq) => seq >= pruneSeq && seq <= lastSeq).sort((a, b) => b - a);
    const hashes = await storedHashes(reads, chainId, checked, prune?.seq === pruneSeq ? prune : null);
    for (const seq of checked) {
      const at = seqs.get(seq);
      if (at === undefined) continue;
      const hash = hashes.get(seq) ?? null;
      if (hash !== at.hash) {
        problem(
          'rewritten',
          hash === null
            ? `its event ${seq}, which checkpoint ${at.checkpoint} states, is gone`
            : `its event ${seq} is not the one checkpoint ${at.checkpoint} states (hash ${hash}, signed ${at.hash}): the chain was rewritten`,
        );
        break;
      }
    }
  }
  const chains: AnchoredChain[] = checks.map((c) => {
    const s = stated.get(c.chainId);
    if (s === undefined) return { chainId: c.chainId, covered: null };
    const seq = Math.max(...s.seqs.keys());
    const at = s.seqs.get(seq);
    return { chainId: c.chainId, covered: at === undefined ? null : { checkpoint: at.checkpoint, seq } };
  });
  return { problems, chains };
}

/** Stated seqs looked up one by one up to this many; more are read in one pass over the chain. */
const POINT_LOOKUPS = 64;
const PAGE = 1_000;

/** The stored hash (hex) of each of `seqs` in a chain (the prune point's for its seq). */
async function storedHashes(
  reads: Pick<RepositoryReads, 'listAuditEvents'>,
  chainId: string,
  seqs: readonly number[],
  prune: AuditHead | null,
): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const wanted = new Set(seqs);
  if (prune !== null && wanted.delete(prune.seq)) out.set(prune.seq, prune.hash.toString('hex'));
  if (wanted.size === 0) return out;
  if (wanted.size <= POINT_LOOKUPS) {
    for (const seq of wanted) {
      const [e] = await reads.listAuditEvents({ chainId, direction: 'desc', beforeSeq: seq + 1, limit: 1 });
      if (e?.seq === seq) out.set(seq, e.hash.toString('hex'));
    }
    return out;
  }
  const high = Math.max(...wanted);
  let after = Math.min(...wanted) - 1;
  while (after < high) {
    const page = await reads.listAuditEvents({ chainId, direction: 'asc', afterSeq: after, limit: PAGE });
    for (const e of page) if (wanted.has(e.seq)) out.set(e.seq, e.hash.toString('hex'));
    const last = page.at(-1);
    if (last === undefined || page.length < PAGE) break;
    after = last.seq;
  }
  return out;
}
