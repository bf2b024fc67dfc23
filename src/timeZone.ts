/**
 * Wall clocks of IANA time zones, from the zone data Node ships (Intl). Used where an upload reads
 * date-times written without a zone and where a query cuts local days, weeks and months.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws a RangeError for a name Intl does not know; only known zones are kept. */
function formatterOf(tz: string): Intl.DateTimeFormat {
  let formatter = formatters.get(tz);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(tz, formatter);
  }
  return formatter;
}

/** True when `tz` is a zone Intl knows. */
export function isTimeZone(tz: string): boolean {
  try {
    formatterOf(tz);
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/** The wall-clock time UTC instant `t` shows in `tz`, as if it were UTC milliseconds (to the second). */
export function wallClock(tz: string, t: number): number {
  const parts: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const { type, value } of formatterOf(tz).formatToParts(t)) parts[type] = value;
  // Astronomical years: 1 BC is year 0.
  const year = parts.era === 'BC' ? 1 - Number(parts.year) : Number(parts.year);
  const d = new Date(0);
  d.setUTCFullYear(year, Number(parts.month) - 1, Number(parts.day));
  d.setUTCHours(Number(parts.hour), Number(parts.minute), Number(parts.second));
  return d.getTime();
}
