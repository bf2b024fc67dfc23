/**
 * The timestamp forms an upload may use. Each is unambiguous; nothing else is guessed.
 *
 * - ISO 8601 / RFC 3339 with an explicit zone: `YYYY-MM-DD(T| )HH:mm[:ss[.fraction]](Z|±hh:mm)`.
 * - Epoch seconds: exactly 10 digits, optionally with a fraction (`1705312800`, `1705312800.25`).
 * - Epoch milliseconds: exactly 13 digits (`1705312800000`).
 *   Both cover 2001-09-09T01:46:40Z to 2286-11-20T17:46:39Z; other digit counts are refused, so a
 *   compact date such as `20240115` is never read as a number of seconds.
 * - A date-time without a zone (`2024-01-15 10:00:00`, `2024-01-15T10:00`) only when the upload
 *   names the zone of such values (the `timezone` option, an IANA name): a wall time that the zone
 *   skips (daylight saving time starts) or passes twice (it ends) is refused, naming which.
 *
 * Written by hand because Date.parse accepts many other shapes and rolls 2024-02-30 over to March.
 */

import { isTimeZone, wallClock } from '../../timeZone';

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))?$/;
const EPOCH_SECONDS = /^(\d{10})(?:\.(\d{1,9}))?$/;
const EPOCH_MILLIS = /^\d{13}$/;
const DIGITS = /^\d+(?:\.\d+)?$/;

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

/** Sub-millisecond digits are dropped: the key and the stored Date both work in milliseconds. */
function fractionMillis(fraction: string | undefined): number {
  return fraction === undefined ? 0 : Number(fraction.padEnd(3, '0').slice(0, 3));
}

/** The upload option naming the zone of zone-less date-times (a form field or query parameter). */
export const TIMEZONE_OPTION = 'timezone';

/** An IANA time zone, checked once per upload; converts wall times in it to instants. */
export class TimeZone {
  private constructor(readonly name: string) {}

  /** The zone, or undefined when Intl does not know the name. */
  static named(name: string): TimeZone | undefined {
    return isTimeZone(name) ? new TimeZone(name) : undefined;
  }

  /** The wall time (as if it were UTC) that `instant` shows in this zone, to the second. */
  private wallAt(instant: number): number {
    return wallClock(this.name, instant);
  }

  private offsetAt(instant: number): number {
    const whole = Math.floor(instant / 1000) * 1000;
    return this.wallAt(whole) - whole;
  }

  /** Every instant whose wall time in this zone is `wall`: none in a gap, two in an overlap. */
  instantsOf(wall: number): number[] {
    const offsets = new Set([-1, 0, 1].map((days) => this.offsetAt(wall + days * 86_400_000)));
    const found = new Set<number>();
    for (const offset of offsets) {
      const instant = wall - offset;
      if (this.offsetAt(instant) === offset) found.add(instant);
    }
    return [...found].sort((a, b) => a - b);
  }

  /** `±hh:mm` of the zone at `instant`. */
  offsetText(instant: number): string {
    const minutes = Math.round(this.offsetAt(instant) / 60_000);
    const abs = Math.abs(minutes);
    const pad = (n: number) => String(n).padStart(2, '0');
    return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }
}

/**
 * What kind of problem a timestamp has, for the per-kind summary of an upload's errors: no zone,
 * a wall time repeated (overlap) or skipped (gap) by a daylight saving time change, or a form
 * that is not read at all.
 */
export type TimestampProblem = 'noZone' | 'overlap' | 'gap' | 'form';

export type TimestampReading =
  { ok: true; millis: number } | { ok: false; message: string; kind?: TimestampProblem };

/** Which instant of a wall time that a zone passes twice is meant (the `ambiguous` option). */
export type Ambiguous = 'earlier' | 'later';
export const AMBIGUOUS_OPTION = 'ambiguous';

const FORMS_TEXT =
  'ISO 8601 with a zone (2024-01-15T10:00:00Z), epoch seconds (10 digits) or epoch milliseconds (13 digits)';

/** How an unreadable timestamp is described: the forms allowed, and the zone option if it applies. */
export function timestampFormsText(zone: TimeZone | undefined): string {
  return zone === undefined
    ? `${FORMS_TEXT}; a date-time without a zone needs the upload option ${TIMEZONE_OPTION} (e.g. ${TIMEZONE_OPTION}=Europe/Berlin)`
    : `${FORMS_TEXT}, or a date-time without a zone, read in ${zone.name}`;
}

function readEpoch(text: string): TimestampReading | undefined {
  const seconds = EPOCH_SECONDS.exec(text);
  if (seconds !== null) return { ok: true, millis: Number(seconds[1]) * 1000 + fractionMillis(seconds[2]) };
  if (EPOCH_MILLIS.test(text)) return { ok: true, millis: Number(text) };
  if (DIGITS.test(text)) {
    return {
      ok: false,
      kind: 'form',
      message:
        'a number is read as epoch seconds only with exactly 10 digits (e.g. 1705312800) and as epoch ' +
        `milliseconds only with exactly 13 (e.g. 1705312800000); this one has ${text.split('.')[0]?.length ?? 0}; ` +
        'microseconds (16 digits) read with the upload option timestampFormat=epoch_us',
    };
  }
  return undefined;
}

/**
 * Reads one timestamp cell (already trimmed); `zone` is the upload's timezone option, if any, and
 * `ambiguous` its ambiguous option.
 */
export function readTimestamp(text: string, zone?: TimeZone, ambiguous?: Ambiguous): TimestampReading {
  const epoch = readEpoch(text);
  if (epoch !== undefined) return epoch;
  const m = ISO_DATE_TIME.exec(text);
  const unreadable: TimestampReading = {
    ok: false,
    kind: 'form',
    message: `must be ${timestampFormsText(zone)}`,
  };
  if (m === null) return unreadable;
  const [, y, mo, d, h, mi, s, frac, zulu, sign, oh, om] = m;
  const wall = wallMillis(
    [Number(y), Number(mo), Number(d)],
    [Number(h), Number(mi), s === undefined ? 0 : Number(s), fractionMillis(frac)],
  );
  if (!wall.ok || zulu !== undefined) return wall;
  if (sign !== undefined) {
    const offH = Number(oh);
    const offM = Number(om);
    if (offH > 23 || offM > 59) return { ok: false, message: 'has an offset beyond ±23:59' };
    return { ok: true, millis: wall.millis - (sign === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000 };
  }
  if (zone === undefined) {
    return {
      ok: false,
      kind: 'noZone',
      message:
        `has no zone: write it with Z or an offset (2024-01-15T10:00:00Z, 2024-01-15T10:00:00+01:00), ` +
        `or name the zone of such values with the upload option ${TIMEZONE_OPTION} (e.g. ${TIMEZONE_OPTION}=Europe/Berlin)`,
    };
  }
  return instantInZone(wall.millis, zone, ambiguous);
}

/** The wall time as if it were UTC, or why it is no calendar date or time of day. */
export function wallMillis(
  [year, month, day]: [number, number, number],
  [hour, minute, second, millis]: [number, number, number, number],
): TimestampReading {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, message: 'is not a calendar date (no such day in that month)' };
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, message: 'is not a time of day (hours 00-23, minutes and seconds 00-59)' };
  }
  return { ok: true, millis: utcMillis(year, month, day, [hour, minute, second, millis]) };
}

/**
 * The instant of a wall time in `zone`. A time the clocks skip is an error whatever the options; a
 * time they pass twice is one unless `ambiguous` says which of the two is meant.
 */
export function instantInZone(wall: number, zone: TimeZone, ambiguous?: Ambiguous): TimestampReading {
  const [first, second] = zone.instantsOf(wall);
  if (first === undefined) {
    return {
      ok: false,
      kind: 'gap',
      message:
        `does not exist in ${zone.name}: the clocks skip that time (a daylight saving time gap); ` +
        'write it with an offset if it is right',
    };
  }
  if (second === undefined) return { ok: true, millis: first };
  if (ambiguous !== undefined) return { ok: true, millis: ambiguous === 'earlier' ? first : second };
  return {
    ok: false,
    kind: 'overlap',
    message:
      `happens twice in ${zone.name} (the clocks go back: a daylight saving time overlap); write it ` +
      `with its offset, ${zone.offsetText(first)} for the first or ${zone.offsetText(second)} for the second, ` +
      `or choose one for every such time with the upload option ${AMBIGUOUS_OPTION}=earlier or ${AMBIGUOUS_OPTION}=later`,
  };
}

/** The instant of a timestamp written in a form that needs no upload option, or undefined. */
export function parseTimestamp(text: string): number | undefined {
  const reading = readTimestamp(text);
  return reading.ok ? reading.millis : undefined;
}
