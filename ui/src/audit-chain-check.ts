import type { AuditEvent } from './coffer-api.js';

export type LinkCheck =
  | { readonly kind: 'unchecked' }
  | { readonly kind: 'consistent'; readonly links: number }
  | { readonly kind: 'broken'; readonly olderSeq: number; readonly newerSeq: number };

/**
 * What the console can check on its own: on a page (newest first), each event whose predecessor in
 * the chain is also on the page must name that predecessor's hash as its `prevHash`. This catches a
 * page whose events do not chain; it does not recompute hashes (that is `coffer audit verify`,
 * which reads the whole chain from the database).
 */
export function checkLinks(events: readonly AuditEvent[]): LinkCheck {
  let links = 0;
  for (let i = 0; i + 1 < events.length; i++) {
    const newer = events[i];
    const older = events[i + 1];
    if (newer === undefined || older === undefined) continue;
    if (newer.seq === undefined || older.seq === undefined || newer.seq !== older.seq + 1) continue;
    if (newer.prevHash === undefined || older.hash === undefined) continue;
    if (newer.prevHash !== older.hash) return { kind: 'broken', olderSeq: older.seq, newerSeq: newer.seq };
    links++;
  }
  return links === 0 ? { kind: 'unchecked' } : { kind: 'consistent', links };
}
