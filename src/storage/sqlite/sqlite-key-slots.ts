import { closeSync, openSync, readSync } from 'node:fs';
import type { Db, SqliteConnection } from './sqlite-connection.js';

/**
 * Where SQLite keeps the versions' wrapped data keys: in slots of `key_slots` rows laid out so that
 * every slot lies in an overflow page (docs/adr/0008-deletion-leaves-no-ciphertext.md).
 *
 * Why: SQLite rebuilds a b-tree page when it balances it and leaves the gap between the cell
 * pointers and the cells as it was, so a moved row's old bytes can stay there; `secure_delete` never
 * sees them. Overflow pages are never moved (auto_vacuum is off), and a freed or rewritten one is
 * zeroed. A version's ciphertext may thus leave a stale copy in a b-tree page, but the only key that
 * opens it, its wrapped data key, lives only in a slot, and deleting the version zeroes the slot
 * (crypto-shredding).
 *
 * Layout of a row: one BLOB column of `blobLength(usable)` bytes (usable: the page size less reserved bytes), so that the record is exactly
 * SQLite's minimum local payload plus one overflow page. The cell then holds the record's header and
 * the blob's first bytes (never used), and the last `usable - 4` bytes of the blob fill the
 * overflow page: the slots, 128 bytes each, counted from the end of the blob.
 */

/** Bytes per slot: a wrapped key is 62 bytes plus its KEK id (src/crypto/envelope.ts). */
export const SLOT_BYTES = 128;
/** A slot's number is its row id times this, plus its index in the row. */
const SLOTS_PER_ID = 1024;

/** SQL: the blob of `keys` with slot `slotExpr` (an expression) replaced by `bytes` (an expression of 128 bytes). */
export function withSlot(keys: string, slotExpr: string, bytes: string): string {
  const index = `((${slotExpr}) & ${SLOTS_PER_ID - 1})`;
  return `CAST(substr(${keys}, 1, length(${keys}) - ${SLOT_BYTES} * (${index} + 1)) || ${bytes}
      || substr(${keys}, length(${keys}) - ${SLOT_BYTES} * ${index} + 1) AS BLOB)`;
}

/** SQL: the `len` bytes of slot `slotExpr` of `keys`. */
export function slotBytes(keys: string, slotExpr: string, len: string): string {
  const index = `((${slotExpr}) & ${SLOTS_PER_ID - 1})`;
  return `substr(${keys}, length(${keys}) - ${SLOT_BYTES} * (${index} + 1) + 1, ${len})`;
}

/** SQL: the row id of slot `slotExpr`. */
export function slotRow(slotExpr: string): string {
  return `((${slotExpr}) >> 10)`;
}

/** The tables of slots, and of free slots (a deleted version's slot is zeroed and reused). */
export const KEY_SLOT_TABLES = `
  CREATE TABLE key_slots (id INTEGER PRIMARY KEY, keys BLOB NOT NULL);
  CREATE TABLE free_key_slots (slot INTEGER PRIMARY KEY);
`;

/** SQL: a trigger that zeroes and frees the slot (`column`) of each row deleted from `table`. */
function shredTrigger(name: string, table: string, column: string): string {
  return `CREATE TRIGGER ${name} AFTER DELETE ON ${table} BEGIN
    UPDATE key_slots SET keys = ${withSlot('keys', `OLD.${column}`, `zeroblob(${SLOT_BYTES})`)}
     WHERE id = ${slotRow(`OLD.${column}`)};
    INSERT INTO free_key_slots (slot) VALUES (OLD.${column});
  END;`;
}

/**
 * The view every read of a version goes through (its wrapped key out of the slot), and the trigger
 * that zeroes a deleted version's slot and frees it, whatever deletes the version: a secret's or a
 * store's deletion, a prune, a destroy, or a cascade.
 */
export const KEY_SLOT_READS_AND_SHREDDING = `
  CREATE VIEW sealed_versions AS
    SELECT v.secret_id, v.version, v.kek_id, v.ciphertext, v.created_at,
           ${slotBytes('k.keys', 'v.key_slot', 'v.key_len')} AS wrapped_key
      FROM secret_versions v JOIN key_slots k ON k.id = ${slotRow('v.key_slot')};
  ${shredTrigger('secret_versions_key_shredded', 'secret_versions', 'key_slot')}
`;

/**
 * The same for webhooks' signing secrets: the view the webhook queries read (its columns are those
 * of `webhooks` before the key moved), and the trigger that zeroes a deleted webhook's slot.
 */
export const WEBHOOK_KEY_SLOT_READS_AND_SHREDDING = `
  CREATE VIEW sealed_webhooks AS
    SELECT w.id, w.tenant_id, w.url, w.event_kinds, w.stores, w.enabled, w.secret_kek_id,
           ${slotBytes('k.keys', 'w.secret_key_slot', 'w.secret_key_len')} AS secret_wrapped_key,
           w.secret_ciphertext, w.secret_version, w.feed_cursor, w.last_delivery, w.lease_owner,
           w.lease_until, w.created_at, w.updated_at
      FROM webhooks w JOIN key_slots k ON k.id = ${slotRow('w.secret_key_slot')};
  ${shredTrigger('webhooks_key_shredded', 'webhooks', 'secret_key_slot')}
`;

function varintLength(n: number): number {
  let bytes = 1;
  while (n >= 2 ** (7 * bytes) && bytes < 9) bytes += 1;
  return bytes;
}

/**
 * The length of a `keys` blob for a database of this page size (no reserved bytes, as
 * better-sqlite3 creates them): a record of one BLOB column is the header (its size, then the
 * column's serial type 2n+12) and the blob. SQLite keeps `minLocal + (P - minLocal) % (usable - 4)`
 * bytes of a P-byte payload in a table leaf's cell (btreeParseCellAdjustSizeForOverflow), so
 * P = minLocal + usable - 4 keeps exactly minLocal there and fills one overflow page.
 */
export function blobLength(usable: number): number {
  const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
  const payload = minLocal + usable - 4;
  for (let header = 2; header < 12; header++) {
    const length = payload - header;
    if (1 + varintLength(2 * length + 12) === header) return length;
  }
  throw new Error(`sqlite: no key slot layout for a usable page size of ${usable}`);
}

/** How many slots a row holds: as many as fit in its overflow page. */
export function slotsPerRow(usable: number): number {
  return Math.min(SLOTS_PER_ID, Math.floor((usable - 4) / SLOT_BYTES));
}

/**
 * The bytes of a page SQLite uses: the page size less the bytes reserved at the end of each page
 * (byte 20 of the file's header; 0 in every file better-sqlite3 creates, but a file made elsewhere
 * may reserve some, and the layout must count them).
 */
export function usablePageSize(db: Db): number {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  if (db.memory) return pageSize;
  const header = Buffer.alloc(100);
  const fd = openSync(db.name, 'r');
  try {
    return readSync(fd, header, 0, 100, 0) === 100 ? pageSize - (header[20] ?? 0) : pageSize;
  } finally {
    closeSync(fd);
  }
}

function padded(wrappedKey: Buffer): Buffer {
  if (wrappedKey.length > SLOT_BYTES) {
    throw new Error(`sqlite: a wrapped key of ${wrappedKey.length} bytes does not fit a key slot`);
  }
  const bytes = Buffer.alloc(SLOT_BYTES);
  wrappedKey.copy(bytes);
  return bytes;
}

interface KeySlotLayout {
  /** Bytes of a row's blob. */
  readonly length: number;
  /** Slots a row holds. */
  readonly slots: number;
}

/** The layout of a `key_slots` row in this database (from its usable page size). */
function keySlotLayout(db: Db): KeySlotLayout {
  const usable = usablePageSize(db);
  return { length: blobLength(usable), slots: slotsPerRow(usable) };
}

export interface KeySlots {
  /** Stores a wrapped key in a free slot (a new row when none is free) and returns the slot. */
  store(wrappedKey: Buffer): number;
  /**
   * Replaces what a slot holds (a rewrap, a rotated webhook secret): the page is rewritten in place,
   * and the WAL that still holds the old image is scrubbed after COMMIT (sealedBytesRemoved).
   */
  overwrite(slot: number, wrappedKey: Buffer): void;
}

export function sqliteKeySlots(conn: SqliteConnection): KeySlots {
  const p = (sql: string) => conn.statement(sql);
  const stmt = {
    takeFree: p(
      'DELETE FROM free_key_slots WHERE slot = (SELECT min(slot) FROM free_key_slots) RETURNING slot',
    ).pluck(),
    addRow: p('INSERT INTO key_slots (keys) VALUES (zeroblob(?)) RETURNING id').pluck(),
    addFree: p('INSERT INTO free_key_slots (slot) VALUES (?)'),
    write: p(
      `UPDATE key_slots SET keys = ${withSlot('keys', '@slot', '@bytes')} WHERE id = ${slotRow('@slot')}`,
    ),
  };
  let layout: KeySlotLayout | null = null;
  const write = (slot: number, wrappedKey: Buffer) => {
    if (stmt.write.run({ slot, bytes: padded(wrappedKey) }).changes !== 1) {
      throw new Error(`sqlite: key slot ${slot} has no row`);
    }
  };
  return {
    store(wrappedKey: Buffer): number {
      let slot = stmt.takeFree.get() as number | undefined;
      if (slot === undefined) {
        layout ??= keySlotLayout(conn.db);
        const { length, slots } = layout;
        const id = stmt.addRow.get(length) as number;
        slot = id * SLOTS_PER_ID;
        for (let i = 1; i < slots; i++) stmt.addFree.run(slot + i);
      }
      write(slot, wrappedKey);
      return slot;
    },
    overwrite(slot: number, wrappedKey: Buffer): void {
      write(slot, wrappedKey);
      conn.sealedBytesRemoved = true;
    },
  };
}

/**
 * Stores `wrappedKeys` in new rows of full slots, not one UPDATE per key (migration 9 moves every
 * version's key at once), and returns their slots in order. A last row's unused slots are free.
 */
export function fillKeySlots(db: Db, wrappedKeys: readonly Buffer[]): number[] {
  const { length, slots: perRow } = keySlotLayout(db);
  const insertRow = db.prepare('INSERT INTO key_slots (keys) VALUES (?) RETURNING id').pluck();
  const addFree = db.prepare('INSERT INTO free_key_slots (slot) VALUES (?)');
  const placed: number[] = [];
  for (let first = 0; first < wrappedKeys.length; first += perRow) {
    const keys = wrappedKeys.slice(first, first + perRow);
    const row = Buffer.alloc(length);
    keys.forEach((key, index) => padded(key).copy(row, length - SLOT_BYTES * (index + 1)));
    const id = insertRow.get(row) as number;
    keys.forEach((_, index) => placed.push(id * SLOTS_PER_ID + index));
    for (let index = keys.length; index < perRow; index++) addFree.run(id * SLOTS_PER_ID + index);
  }
  return placed;
}
