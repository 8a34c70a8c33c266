import { InvalidError } from './errors.js';

/** Latest accepted instant: 9999-12-31T23:59:59Z, in epoch seconds. */
export const MAX_EPOCH_SECONDS = 253_402_300_799;

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Date.UTC with the year taken as given. Date.UTC (like `new Date(y, …)`) reads years 0–99 as
 * 1900–1999, which once stored "0099-06-01" as 1999-06-01; setUTCFullYear has no such rule.
 */
function utcMillis(year: number, month: number, day: number, h = 0, m = 0, s = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(h, m, s, ms);
  return date.getTime();
}

function daysInMonth(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one (proleptic Gregorian: 0000 is a leap year).
  return new Date(utcMillis(year, month + 1, 0)).getUTCDate();
}

/**
 * Strict ISO 8601 date or date-time (no zone = UTC) to epoch milliseconds, or null when malformed
 * or impossible (2023-02-30, 25:00). Unlike Date.parse, it never rolls an invalid date over.
 */
export function parseIsoInstant(text: string): number | null {
  const m = ISO_8601.exec(text);
  if (m === null) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const millis = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  return utcMillis(year, month, day, hour, minute, second, millis) - offsetMinutes * 60_000;
}

/**
 * An instant given as an ISO 8601 string or as whole Unix epoch seconds → epoch milliseconds.
 * Accepted: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z; anything else (years 0000–1969
 * included, kept exactly and so out of range) is a 400 naming the field (docs/decisions.md).
 */
export function parseInstant(value: string | number, field: string): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= MAX_EPOCH_SECONDS) return value * 1000;
  } else {
    const ms = parseIsoInstant(value);
    if (ms !== null && ms >= 0 && ms <= MAX_EPOCH_SECONDS * 1000) return ms;
  }
  throw InvalidError.field(
    'invalid_instant',
    field,
    'Expected an ISO 8601 date-time (e.g. 2030-01-31T12:00:00Z) or Unix epoch seconds, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.',
  );
}
