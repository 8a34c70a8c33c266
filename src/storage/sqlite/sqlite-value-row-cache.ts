import type { SecretValueRow } from '../../core/model.js';

/** Most rows kept: about 200 bytes of sealed material each, a few MB in all. */
export const VALUE_ROWS_MAX = 4096;

/**
 * The SQLite engine's current-value rows of recent reads, by tenant, store name and secret name: ids,
 * version, validity window and the value *as stored*, sealed (ciphertext and wrapped data key; never
 * plaintext, never an unwrapped key). A hit saves the three-table join of the hottest read; the value
 * is still opened, and the read still authorised and audited, on every request (issue 15: "caching
 * encrypted rows"). docs/security.md lists it.
 *
 * Invalidation is by flushing everything, which writes to values make rare enough: the repository
 * clears it after every COMMIT of this process that wrote to a table a row is read from (a statement's
 * classification, `touchesValueRows`), and before a read when another process (the CLI) committed
 * (the writer connection's `data_version`, which this process's own commits do not move). Only rows
 * read while neither happened since are kept (`generation`). Bounded: least recently used out first.
 */
export class ValueRowCache {
  readonly #rows = new Map<string, SecretValueRow>();
  readonly #max: number;
  /** Moves with every flush: a row read before one is not kept after it. */
  #generation = 0;

  constructor(max = VALUE_ROWS_MAX) {
    this.#max = max;
  }

  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#rows.size;
  }

  get(tenantId: string, storeName: string, secretName: string): SecretValueRow | undefined {
    const key = keyOf(tenantId, storeName, secretName);
    const row = this.#rows.get(key);
    if (row !== undefined) {
      // Most recently used last.
      this.#rows.delete(key);
      this.#rows.set(key, row);
    }
    return row;
  }

  /** Keeps a row read at `generation`, unless a flush happened since. */
  set(
    generation: number,
    tenantId: string,
    storeName: string,
    secretName: string,
    row: SecretValueRow,
  ): void {
    if (generation !== this.#generation) return;
    this.#rows.set(keyOf(tenantId, storeName, secretName), row);
    if (this.#rows.size > this.#max) {
      const oldest = this.#rows.keys().next();
      if (oldest.done !== true) this.#rows.delete(oldest.value);
    }
  }

  flush(): void {
    this.#generation += 1;
    this.#rows.clear();
  }
}

/** Unambiguous whatever the names hold: each part but the last carries its length. */
function keyOf(tenantId: string, storeName: string, secretName: string): string {
  return `${tenantId.length}:${tenantId}${storeName.length}:${storeName}${secretName}`;
}

/** Statements that only read. */
const READ = /^\s*(?:SELECT|PRAGMA)\b/i;
/**
 * Writes to tables no current-value row is read from (the audit trail, webhooks, credentials,
 * bookkeeping, version states: the row joins stores, secrets and secret_versions only).
 */
const NEUTRAL_WRITE =
  /^\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:audit_\w+|webhooks|webhook_deliveries|coffer_meta|issued_tokens|api_keys|service_credentials|version_states)\b/i;

/**
 * Whether running `sql` may change a current-value row: any statement but a read or a write to a table
 * known not to hold one. Unknown statements count as writes to values, so a new table or statement
 * costs a flush, never a stale row.
 */
export function touchesValueRows(sql: string): boolean {
  return !READ.test(sql) && !NEUTRAL_WRITE.test(sql);
}
