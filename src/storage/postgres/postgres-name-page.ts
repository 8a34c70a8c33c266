import type { NamePageQuery } from '../../core/model.js';
import { nameRange } from '../name-range.js';
import type { Row } from '../row-mappers.js';
import type { PostgresConnection } from './postgres-connection.js';

/**
 * Up to `limit + 1` rows of a range on a unique (owner…, name) index (names are COLLATE "C", so
 * the bounds are index bounds): the rows read are the rows returned, wherever the page starts.
 * One prepared statement per shape (strict or not, with or without an upper bound).
 */
export async function namePage(
  conn: PostgresConnection,
  table: 'secrets' | 'stores',
  columns: string,
  owner: string,
  values: readonly unknown[],
  q: NamePageQuery,
): Promise<Row[]> {
  const range = nameRange(q);
  const args = [...values, range.from, ...(range.below === null ? [] : [range.below]), q.limit + 1];
  const n = (i: number) => `$${values.length + i}`;
  const upper = range.below === null ? '' : ` AND name < ${n(2)}`;
  const sql = `SELECT ${columns} FROM ${table} WHERE ${owner} AND name ${range.inclusive ? '>=' : '>'} ${n(1)}${upper}
    ORDER BY name LIMIT ${n(args.length - values.length)}`;
  const name = `coffer_${table}_by_name_${range.inclusive ? 'from' : 'after'}${range.below === null ? '' : '_below'}`;
  return conn.all(name, sql, args);
}
