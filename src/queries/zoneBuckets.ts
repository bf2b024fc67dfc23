import { QUARTER_MS } from '../events/chunkDetail';
import { dateOfDay, dayNumber } from '../events/dailyCounts';
import { wallClock } from '../timeZone';

/**
 * Buckets of local days, ISO weeks or months in an IANA zone, as ranges of UTC milliseconds.
 * A local day runs from the first instant whose local date is that day to the first instant of the
 * next one, so DST days last 23 or 25 hours and a day whose midnight a DST jump skips starts at
 * 01:00. Boundaries come from Intl (the zone data Node ships); a boundary that is not on a UTC
 * quarter-hour (a local mean time of before about 1900) cannot be answered exactly and is refused.
 */

export type Interval = 'day' | 'week' | 'month';

export interface Bucket {
  /** The bucket's first local date: the day, the Monday of the ISO week, or the first of the month. */
  date: string;
  /** UTC milliseconds, [start, end), clipped to the range asked for. */
  start: number;
  end: number;
}

export class UnalignedZoneError extends Error {
  constructor(
    readonly tz: string,
    readonly date: string,
  ) {
    super(`${tz}: local midnight of ${date} is not on a UTC quarter-hour`);
  }
}

const DAY_MS = 86_400_000;

export function localDay(tz: string, t: number): number {
  return Math.floor(wallClock(tz, t) / DAY_MS);
}

/** The first UTC instant of local date `day` in `tz`. */
export function startOfLocalDay(tz: string, day: number): number {
  const midnight = day * DAY_MS;
  if (tz === 'UTC') return midnight;
  const first = midnight - (wallClock(tz, midnight) - midnight);
  const t = midnight - (wallClock(tz, first) - first);
  if (localDay(tz, t) === day && localDay(tz, t - 1000) < day) return t;
  // Midnight does not exist that day (a DST jump at 00:00): the first minute whose date is `day`.
  let low = midnight - 16 * 3_600_000; // before the day in every zone
  let high = midnight + 16 * 3_600_000; // in it or after it in every zone
  while (high - low > 60_000) {
    const mid = low + Math.floor((high - low) / 120_000) * 60_000;
    if (localDay(tz, mid) >= day) high = mid;
    else low = mid;
  }
  return high;
}

function aligned(tz: string, day: number): number {
  const t = startOfLocalDay(tz, day);
  if (t % QUARTER_MS !== 0) throw new UnalignedZoneError(tz, dateOfDay(day));
  return t;
}

/** The first local date of the bucket holding `day`. */
function bucketStart(interval: Interval, day: number): number {
  if (interval === 'day') return day;
  if (interval === 'week') return day - ((new Date(day * DAY_MS).getUTCDay() + 6) % 7);
  return dayNumber(`${dateOfDay(day).slice(0, 7)}-01`);
}

function nextBucket(interval: Interval, start: number): number {
  if (interval === 'day') return start + 1;
  if (interval === 'week') return start + 7;
  const d = new Date(start * DAY_MS);
  d.setUTCMonth(d.getUTCMonth() + 1, 1);
  return Math.round(d.getTime() / DAY_MS);
}

/** Every bucket of [from, to] (local dates, both included), in order. */
export function bucketsOf(tz: string, interval: Interval, from: string, to: string): Bucket[] {
  const first = dayNumber(from);
  const last = dayNumber(to);
  const buckets: Bucket[] = [];
  const starts = new Map<number, number>();
  const startOf = (day: number): number => {
    let t = starts.get(day);
    if (t === undefined) starts.set(day, (t = aligned(tz, day)));
    return t;
  };
  for (let start = bucketStart(interval, first); start <= last; start = nextBucket(interval, start)) {
    const end = Math.min(nextBucket(interval, start), last + 1);
    buckets.push({ date: dateOfDay(start), start: startOf(Math.max(start, first)), end: startOf(end) });
  }
  return buckets;
}
