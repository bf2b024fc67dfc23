import { byCodeUnits } from './codeUnitOrder';
import { countCellsOf, QUARTERS_PER_DAY, type ChunkDetail } from './chunkDetail';

/** UTC days: what EventsProcessed's day span and the daily read model count in. */

export function utcDate(timestamp: Date): string {
  return timestamp.toISOString().slice(0, 10);
}

const DAY_MS = 86_400_000;

/**
 * Date.UTC(year, month, day): the start of a UTC day (month from 0; overflowing months and days
 * roll over), without Date.UTC's rule that reads the years 0-99 as 1900-1999.
 */
export function utcDayStart(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  return d.getTime();
}

/** Days since 1970-01-01 of a YYYY-MM-DD date. */
export function dayNumber(date: string): number {
  const start = utcDayStart(
    Number(date.slice(0, 4)),
    Number(date.slice(5, 7)) - 1,
    Number(date.slice(8, 10)),
  );
  return Math.round(start / DAY_MS);
}

export function dateOfDay(day: number): string {
  const d = new Date(day * DAY_MS);
  const year = String(d.getUTCFullYear()).padStart(4, '0');
  return `${year}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** The first and last UTC day of some events, null when there are none. */
export function daySpanOf(
  events: readonly (readonly [eventType: string, utcMillis: number, ...unknown[]])[],
): {
  firstDay: string | null;
  lastDay: string | null;
} {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const [, millis] of events) {
    first = Math.min(first, millis);
    last = Math.max(last, millis);
  }
  return Number.isFinite(first)
    ? { firstDay: utcDate(new Date(first)), lastDay: utcDate(new Date(last)) }
    : { firstDay: null, lastDay: null };
}

/** Counts per (UTC date, eventType) summed from a chunk's quarter-hours, sorted so equal inputs give equal lists. */
export function dayCountsOf(detail: ChunkDetail): { date: string; eventType: string; count: number }[] {
  const { length, types, quarters, values } = countCellsOf(detail);
  const typeCount = Math.max(1, detail.eventTypes.length);
  // Keyed by day * typeCount + type. Cells come by type, then quarter-hour: a day's cells of a
  // type follow one another, so they are summed before the map is touched.
  const sums = new Map<number, number>();
  let key = Number.NaN;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const cellKey = Math.floor((quarters[i] ?? 0) / QUARTERS_PER_DAY) * typeCount + (types[i] ?? 0);
    if (cellKey !== key) {
      if (sum !== 0) sums.set(key, (sums.get(key) ?? 0) + sum);
      key = cellKey;
      sum = 0;
    }
    sum += values[i] ?? 0;
  }
  if (sum !== 0) sums.set(key, (sums.get(key) ?? 0) + sum);
  const dates = new Map<number, string>();
  const counts: { date: string; eventType: string; count: number }[] = [];
  for (const [key, count] of sums) {
    const day = Math.floor(key / typeCount);
    let date = dates.get(day);
    if (date === undefined) dates.set(day, (date = dateOfDay(day)));
    counts.push({ date, eventType: detail.eventTypes[key - day * typeCount] ?? '', count });
  }
  return counts.sort((a, b) =>
    a.date === b.date ? byCodeUnits(a.eventType, b.eventType) : byCodeUnits(a.date, b.date),
  );
}
