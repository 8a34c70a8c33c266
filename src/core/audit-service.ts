import type { Repository } from './ports/repository.js';
import { requirePermission } from './actor.js';
import { type AnchoredReport, checkAgainstAnchors } from './audit-anchor-check.js';
import { type ChainCheck, verifyChain } from './audit-chain.js';
import type { SignedCheckpoint } from './audit-checkpoint.js';
import type { AuditTrail } from './audit-trail.js';
import { type Caller, callContextOf } from './call-context.js';
import { ForbiddenError, InvalidError } from './errors.js';
import type { AuditEventRecord, AuditOutcome, AuditPosition } from './model.js';

/** Most events one page of `GET /api/{tenantId}/audit` returns. */
export const AUDIT_PAGE_MAX = 500;

/** An event as it leaves the process (API, export, COFFER_AUDIT_STDOUT): hashes in hex, time in ISO 8601. */
export interface AuditEventView {
  /** The chain it is a link of (opaque; a tenant's trail is several chains). */
  readonly chainId: string;
  /** '' for the platform. */
  readonly tenantId: string;
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
  readonly outcome: AuditOutcome;
  readonly reason: string | null;
  readonly requestId: string;
  readonly clientAddress: string;
  readonly prevHash: string;
  readonly hash: string;
}

export function auditEventView(e: AuditEventRecord): AuditEventView {
  return {
    chainId: e.chainId,
    tenantId: e.tenantId,
    seq: e.seq,
    time: new Date(e.time).toISOString(),
    actor: e.actor,
    action: e.action,
    resource: e.resource,
    outcome: e.outcome,
    reason: e.reason,
    requestId: e.requestId,
    clientAddress: e.clientAddress,
    prevHash: e.prevHash.toString('hex'),
    hash: e.hash.toString('hex'),
  };
}

export interface AuditPageQuery {
  readonly limit: number;
  /** Opaque: the `nextCursor` of the previous page. */
  readonly cursor?: string;
  readonly action?: string;
  readonly actor?: string;
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
}

export interface AuditPage {
  /** Newest first: by time, then chain id, then seq, all descending. */
  readonly events: AuditEventView[];
  /** Null on the last page. */
  readonly nextCursor: string | null;
}

/**
 * The cursor is opaque to clients: the position of the page's last event in the order (time, chain
 * id, seq), continued strictly below. Version 1 (before schema 3: a seq of the tenant's one chain)
 * is still accepted: that chain is the tenant's schema-2 chain, whose id is the tenant id.
 */
function encodeCursor(last: AuditPosition): string {
  return Buffer.from(JSON.stringify({ v: 2, t: last.time, c: last.chainId, s: last.seq }), 'utf8').toString(
    'base64url',
  );
}

type DecodedCursor =
  { readonly v: 1; readonly before: number } | { readonly v: 2; readonly at: AuditPosition };

const isNonNegative = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function decodeCursor(cursor: string): DecodedCursor {
  const invalid = () =>
    InvalidError.field('invalid_cursor', 'cursor', 'The cursor is not one this API returned.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const c = parsed as { v?: unknown; before?: unknown; t?: unknown; c?: unknown; s?: unknown };
  if (c.v === 1 && isNonNegative(c.before) && c.before >= 1) return { v: 1, before: c.before };
  if (c.v === 2 && isNonNegative(c.t) && typeof c.c === 'string' && isNonNegative(c.s) && c.s >= 1) {
    return { v: 2, at: { time: c.t, chainId: c.c, seq: c.s } };
  }
  throw invalid();
}

function requireOperator(caller: Caller): void {
  if (callContextOf(caller).actor.kind !== 'operator') {
    throw new ForbiddenError(
      'not_service',
      'operator_only',
      'Only the operator (CLI) checks or exports every chain.',
    );
  }
}

/** Reading the audit trail: a tenant's page over HTTP (itself audited), and the operator's verify and export. */
export class AuditService {
  readonly #deps: { repository: Repository; audit: AuditTrail };

  constructor(deps: { repository: Repository; audit: AuditTrail }) {
    this.#deps = deps;
  }

  /** One page of the tenant's events, newest first, filtered; needs `audit:read`. */
  async list(caller: Caller, tenantId: string, query: AuditPageQuery): Promise<AuditPage> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(ctx, { tenantId, action: 'audit.read', resource: 'audit' }, async () => {
      requirePermission(ctx.actor, tenantId, 'audit:read');
      if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > AUDIT_PAGE_MAX) {
        throw InvalidError.field('invalid_limit', 'limit', `The limit must be from 1 to ${AUDIT_PAGE_MAX}.`);
      }
      const after = query.cursor === undefined ? undefined : await this.#position(tenantId, query.cursor);
      const rows = await this.#deps.repository.listTenantAuditEvents({
        tenantId,
        direction: 'desc',
        limit: query.limit + 1,
        ...(after === undefined ? {} : { after }),
        ...(query.action === undefined ? {} : { action: query.action }),
        ...(query.actor === undefined ? {} : { actor: query.actor }),
        ...(query.since === undefined ? {} : { since: query.since }),
        ...(query.until === undefined ? {} : { until: query.until }),
      });
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        events: page.map(auditEventView),
        nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor(last) : null,
      };
    });
  }

  /** Where a cursor continues: a version-1 cursor names a seq of the tenant's schema-2 chain. */
  async #position(tenantId: string, cursor: string): Promise<AuditPosition> {
    const decoded = decodeCursor(cursor);
    if (decoded.v === 2) return decoded.at;
    const [event] = await this.#deps.repository.listAuditEvents({
      chainId: tenantId,
      direction: 'asc',
      afterSeq: decoded.before - 1,
      limit: 1,
    });
    // Past the chain's end (or no such chain): nothing older on that chain to continue below.
    if (event === undefined || event.seq !== decoded.before) return { time: 0, chainId: '', seq: 0 };
    return { time: event.time, chainId: event.chainId, seq: event.seq };
  }

  /**
   * Walks every chain (or one) from its first event. Read-only and not itself audited, so it can run
   * on a copy of the database, or while the server is down.
   */
  async verify(caller: Caller, tenantId?: string): Promise<ChainCheck[]> {
    requireOperator(caller);
    const chains = await this.#deps.repository.listAuditChains({
      ...(tenantId === undefined ? {} : { tenantId }),
      withHeadless: true,
    });
    const out: ChainCheck[] = [];
    for (const chain of chains) out.push(await verifyChain(this.#deps.repository, chain));
    return out;
  }

  /**
   * Checks the database against signed checkpoints (already loaded and checked as a sequence):
   * truncated chains, deleted chains, rewritten events, pruning past a checkpoint. `checks` are
   * `verify`'s results for every chain.
   */
  async verifyAgainstAnchors(
    caller: Caller,
    checkpoints: readonly SignedCheckpoint[],
    checks: readonly ChainCheck[],
  ): Promise<AnchoredReport> {
    requireOperator(caller);
    return checkAgainstAnchors(this.#deps.repository, checkpoints, checks);
  }

  /**
   * Hands every event since `since` (epoch ms) to `write`, chain by chain (by chain id) in seq order;
   * returns the count.
   */
  async export(
    caller: Caller,
    options: { since: number; tenantId?: string },
    write: (event: AuditEventView) => void,
  ): Promise<number> {
    requireOperator(caller);
    const chains = await this.#deps.repository.listAuditChains({
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      withHeadless: true,
    });
    let count = 0;
    for (const { chainId } of chains) {
      let afterSeq = 0;
      for (;;) {
        const page = await this.#deps.repository.listAuditEvents({
          chainId,
          direction: 'asc',
          afterSeq,
          since: options.since,
          limit: 1_000,
        });
        for (const e of page) write(auditEventView(e));
        count += page.length;
        const last = page.at(-1);
        if (last === undefined || page.length < 1_000) break;
        afterSeq = last.seq;
      }
    }
    return count;
  }
}
