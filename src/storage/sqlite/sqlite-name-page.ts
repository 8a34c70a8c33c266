import type { NamePageQuery } from '../../core/model.js';
import { nameRange } from '../name-range.js';
import type { Row } from '../row-mappers.js';
import type { SqliteConnection } from './sqlite-connection.js';

/**
 * Up to `limit + 1` rows of a range on a unique (owner…, name) index: (store_id, name) for
 * secrets, (tenant_id, managed_by, name) for stores. The bounds are index bounds, so the rows read
 * are the rows returned, wherever the page starts.
 */
export function namePage(
  conn: SqliteConnection,
  table: 'secrets' | 'stores',
  owner: string,
  args: unknown[],
  q: NamePageQuery,
): Row[] {
  const range = nameRange(q);
  const upper = range.below === null ? '' : ' AND name < ?';
  const sql = `SELECT * FROM ${table} WHERE ${owner} AND name ${range.inclusive ? '>=' : '>'} ?${upper} ORDER BY name LIMIT ?`;
  const bounds = range.below === null ? [range.from] : [range.from, range.below];
  return conn.prepared(sql).all(...args, ...bounds, q.limit + 1) as Row[];
}
