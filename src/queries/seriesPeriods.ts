import { dateOfDay, dayNumber, utcDayStart } from '../events/dailyCounts';
import type { MetricSeries, TypeMetrics } from './getMetricSeries';
import type { SeriesParams } from './seriesParams';
import type { Interval } from './zoneBuckets';
import { byCodeUnits } from '../events/codeUnitOrder';

/**
 * What a series answer adds to the buckets summed by getMetricSeries: which buckets the range cuts
 * (`partial`) and the previous period to compare with. Both are worked out from dates only, so they
 * hold whatever the read model underneath stores.
 */

export interface SeriesBucket {
  date: string;
  metrics: TypeMetrics[];
  /** Present (true) on a week or month the range's from or to cuts: it holds fewer days than a whole one. */
  partial?: true;
}

export interface TypeChange {
  eventType: string;
  count: number;
  previousCount: number;
  /** (count - previousCount) / previousCount in percent, to one decimal; null when previousCount is 0. */
  percentChange: number | null;
}

export interface PreviousPeriod {
  from: string;
  to: string;
  series: SeriesBucket[];
  totals: TypeMetrics[];
  change: TypeChange[];
}

export type SeriesAnswer = Omit<MetricSeries, 'series'> & {
  series: SeriesBucket[];
  previous?: PreviousPeriod;
};

function monthIndex(date: string): number {
  return Number(date.slice(0, 4)) * 12 + Number(date.slice(5, 7)) - 1;
}

function daysInMonth(index: number): number {
  return new Date(utcDayStart(Math.floor(index / 12), (index % 12) + 1, 0)).getUTCDate();
}

function dateIn(index: number, day: number): string {
  const year = String(Math.floor(index / 12)).padStart(4, '0');
  return `${year}-${String((index % 12) + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * `date` moved `months` calendar months back: its day of the month kept, cut to the target month's
 * length, and the last day of a month staying the last day (so whole months stay whole).
 */
function monthsBefore(date: string, months: number): string {
  const from = monthIndex(date);
  const target = from - months;
  const day = Number(date.slice(8, 10));
  const last = daysInMonth(target);
  return dateIn(target, day === daysInMonth(from) ? last : Math.min(day, last));
}

/**
 * The period a range is compared with: as many buckets just before `from`. Day and week series
 * move back a whole number of weeks, the fewest that end it at or before `from` (so each day is
 * compared with the same weekday: a 10-day range moves back 14 days); month series move back as
 * many calendar months as the range touches.
 */
export function previousRange(params: SeriesParams): SeriesParams {
  const { from, to } = params;
  if (params.interval === 'month') {
    const months = monthIndex(to) - monthIndex(from) + 1;
    return { ...params, from: monthsBefore(from, months), to: monthsBefore(to, months) };
  }
  const days = dayNumber(to) - dayNumber(from) + 1;
  const shift = 7 * Math.ceil(days / 7);
  return { ...params, from: dateOfDay(dayNumber(from) - shift), to: dateOfDay(dayNumber(to) - shift) };
}

/** Whether the bucket named `date` holds days outside [from, to]. */
export function isPartial(interval: Interval, date: string, from: string, to: string): boolean {
  if (interval === 'day') return false;
  const first = dayNumber(date);
  const last = interval === 'week' ? first + 6 : first + daysInMonth(monthIndex(date)) - 1;
  return first < dayNumber(from) || last > dayNumber(to);
}

function markedPartial(answer: MetricSeries, interval: Interval): SeriesBucket[] {
  return answer.series.map((bucket) =>
    isPartial(interval, bucket.date, answer.from, answer.to) ? { ...bucket, partial: true } : bucket,
  );
}

/** Percent change to one decimal; null when there is nothing to compare with. */
export function percentChange(count: number, previousCount: number): number | null {
  if (previousCount === 0) return null;
  return Math.round(((count - previousCount) / previousCount) * 1000) / 10;
}

function changeOf(current: TypeMetrics[], previous: TypeMetrics[]): TypeChange[] {
  const counts = new Map<string, { count: number; previousCount: number }>();
  for (const m of current) counts.set(m.eventType, { count: m.count, previousCount: 0 });
  for (const m of previous) {
    const known = counts.get(m.eventType);
    if (known === undefined) counts.set(m.eventType, { count: 0, previousCount: m.count });
    else known.previousCount = m.count;
  }
  return [...counts]
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([eventType, c]) => ({ eventType, ...c, percentChange: percentChange(c.count, c.previousCount) }));
}

/** The answer sent: buckets cut by the range marked partial, and the previous period when asked for. */
export function seriesAnswer(current: MetricSeries, previous?: MetricSeries): SeriesAnswer {
  const answer: SeriesAnswer = { ...current, series: markedPartial(current, current.interval) };
  if (previous === undefined) return answer;
  return {
    ...answer,
    previous: {
      from: previous.from,
      to: previous.to,
      series: markedPartial(previous, previous.interval),
      totals: previous.totals,
      change: changeOf(current.totals, previous.totals),
    },
  };
}
