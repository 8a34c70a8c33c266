import type { SecretValueRow } from '../../core/model.js';

/** Most rows kept. */
export const VALUE_ROWS_MAX = 4096;
/**
 * Most bytes of sealed material (ciphertexts and wrapped keys) kept, all rows together: a value may
 * be up to 64 KiB, so the row count alone would let 4,096 large values hold 270 MB.
 */
export const VALUE_ROW_BYTES_MAX = 8 * 1024 * 1024;
/** A row whose sealed material is larger than this is not kept (a large value's join is not the cost). */
const ROW_BYTES_MAX = 16 * 1024;

/**
 * The SQLite engine's current-value rows of recent reads, by tenant, store name and secret name: ids,
 * version, validity window and the value *as stored*, sealed (ciphertext and wrapped data key; never
 * plaintext, never an unwrapped key). A hit saves the three-table join of the hottest read; the value
 * is still opened, and the read still authorised and audited, on every request (issue 15: "caching
 * encrypted rows"). docs/security.md lists it.
 *
 * Invalidation is by flushing everything, which writes to values make rare enough: the repository
 * clears it at the end of every batch of this process that ran a statement that may change a row (a
 * statement's classification, `touchesValueRows`), committed or not, and before a read when another
 * connection committed (the writer connection's `data_version`, which its own commits do not move).
 * Only rows read while neither happened since are kept (`generation`). Bounded by rows and by bytes
 * (least recently used out first); a row of a large value is not kept.
 */
export class ValueRowCache {
  readonly #rows = new Map<string, SecretValueRow>();
  readonly #max: number;
  readonly #maxBytes: number;
  #bytes = 0;
  /** Moves with every flush: a row read before one is not kept after it. */
  #generation = 0;

  constructor(max = VALUE_ROWS_MAX, maxBytes = VALUE_ROW_BYTES_MAX) {
    this.#max = max;
    this.#maxBytes = maxBytes;
  }

  /** Bytes of sealed material held. */
  get bytes(): number {
    return this.#bytes;
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
    const size = bytesOf(row);
    if (size > ROW_BYTES_MAX) return;
    const key = keyOf(tenantId, storeName, secretName);
    const previous = this.#rows.get(key);
    if (previous !== undefined) {
      this.#rows.delete(key);
      this.#bytes -= bytesOf(previous);
    }
    this.#rows.set(key, row);
    this.#bytes += size;
    while (this.#rows.size > this.#max || this.#bytes > this.#maxBytes) {
      const oldest = this.#rows.entries().next();
      if (oldest.done === true) break;
      this.#rows.delete(oldest.value[0]);
      this.#bytes -= bytesOf(oldest.value[1]);
    }
  }

  flush(): void {
    this.#generation += 1;
    this.#rows.clear();
    this.#bytes = 0;
  }
}

function bytesOf(row: SecretValueRow): number {
  return row.sealed.ciphertext.length + row.sealed.wrappedKey.length;
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
