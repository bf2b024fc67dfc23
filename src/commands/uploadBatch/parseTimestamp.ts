/**
 * ISO 8601 date-time with an explicit zone: `YYYY-MM-DDTHH:mm[:ss[.fraction]](Z|±hh:mm)`.
 * Returns UTC milliseconds, or undefined for anything else (date-only, no zone, impossible dates).
 * Written by hand because Date.parse accepts many other shapes and rolls 2024-02-30 over to March.
 */

const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

function utcMillis(year: number, month: number, day: number, time: [number, number, number, number]): number {
  const date = new Date(0);
  // setUTCFullYear, because Date.UTC maps years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(...time);
  return date.getTime();
}

/**
 * The instants an event may have: their UTC day is written YYYY-MM-DD, which the log's schema of
 * daily counts requires. An offset moves an instant by up to a day, so 9999-12-31T23:59-23:59 reads
 * but falls on 10000-01-01 in UTC; such a row would fail every processing attempt of its chunk.
 */
export const EARLIEST_INSTANT = utcMillis(0, 1, 1, [0, 0, 0, 0]);
export const LATEST_INSTANT = utcMillis(9999, 12, 31, [23, 59, 59, 999]);
export const INSTANT_RANGE_TEXT = '0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z';

export function inInstantRange(millis: number): boolean {
  return millis >= EARLIEST_INSTANT && millis <= LATEST_INSTANT;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function parseTimestamp(text: string): number | undefined {
  const m = ISO_WITH_ZONE.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zulu, sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;

  let offsetMinutes = 0;
  if (zulu === undefined) {
    const offH = Number(oh);
    const offM = Number(om);
    if (offH > 23 || offM > 59) return undefined;
    offsetMinutes = (sign === '-' ? -1 : 1) * (offH * 60 + offM);
  }
  // Sub-millisecond digits are dropped: the key and the stored Date both work in milliseconds.
  const millis = frac === undefined ? 0 : Number(frac.padEnd(3, '0').slice(0, 3));

  return utcMillis(year, month, day, [hour, minute, second, millis]) - offsetMinutes * 60_000;
}
