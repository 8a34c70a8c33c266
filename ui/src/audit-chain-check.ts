import type { AuditEvent } from './coffer-api.js';

export type LinkCheck =
  | { readonly kind: 'unchecked' }
  | { readonly kind: 'consistent'; readonly links: number }
  | { readonly kind: 'broken'; readonly olderSeq: number; readonly newerSeq: number };

/**
 * What the console can check on its own: on a page (newest first), each event whose predecessor in
 * its chain (same `chainId`, `seq - 1`) is also on the page must name that predecessor's hash as its
 * `prevHash`. A tenant's events come from several chains, interleaved by time. This catches a page
 * whose events do not chain; it does not recompute hashes (that is `coffer audit verify`, which reads
 * every chain from the database).
 */
export function checkLinks(events: readonly AuditEvent[]): LinkCheck {
  const bySeat = new Map<string, AuditEvent>();
  const seat = (chainId: string | undefined, seq: number) => `${seq}\u0000${chainId ?? ''}`;
  for (const e of events) {
    if (e.seq !== undefined) bySeat.set(seat(e.chainId, e.seq), e);
  }
  let links = 0;
  for (const newer of events) {
    if (newer.seq === undefined || newer.prevHash === undefined) continue;
    const older = bySeat.get(seat(newer.chainId, newer.seq - 1));
    if (older === undefined || older.seq === undefined || older.hash === undefined) continue;
    if (newer.prevHash !== older.hash) return { kind: 'broken', olderSeq: older.seq, newerSeq: newer.seq };
    links++;
  }
  return links === 0 ? { kind: 'unchecked' } : { kind: 'consistent', links };
}
