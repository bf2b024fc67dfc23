import type { Db } from 'mongodb';
import { QUARTER_MS, QUARTERS_PER_DAY } from '../events/chunkDetail';
import { dateOfDay, dayNumber } from '../events/dailyCounts';
import {
  forEachCount,
  forEachUser,
  seriesDays,
  type SeriesDay,
  type SeriesStoredDoc,
} from '../projections/seriesDay';
import { liveCollection } from '../projections/readModels';
import { createAnswerCache, readModelStamp } from './answerCache';
import type { SeriesParams } from './seriesParams';
import { UserSet } from './userSet';
import { ValidationError } from '../errors';
import { bucketsOf, UnalignedZoneError, type Bucket, type Interval } from './zoneBuckets';
import { byCodeUnits } from '../events/codeUnitOrder';

export interface TypeMetrics {
  eventType: string;
  count: number;
  uniqueUsers: number;
}

export interface MetricSeries {
  from: string;
  to: string;
  tz: string;
  interval: Interval;
  series: { date: string; metrics: TypeMetrics[] }[];
  totals: TypeMetrics[];
  /**
   * UTC days in the range holding events known per day only (processed before EventsProcessed v2):
   * counted only in buckets that hold the whole UTC day, never in uniqueUsers. Absent when none.
   */
  incompleteDays?: string[];
}

class Tally {
  count = 0;
  readonly users = new UserSet();
}

function tallyOf(map: Map<string, Tally>, eventType: string): Tally {
  let tally = map.get(eventType);
  if (tally === undefined) map.set(eventType, (tally = new Tally()));
  return tally;
}

function metricsOf(map: Map<string, Tally>): TypeMetrics[] {
  return [...map]
    .filter(([, t]) => t.count > 0)
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([eventType, t]) => ({ eventType, count: t.count, uniqueUsers: t.users.size }));
}

/** The index of the bucket holding UTC quarter-hour `quarter`, or -1 (buckets are contiguous and sorted). */
function bucketIndex(starts: readonly number[], endQuarter: number, quarter: number): number {
  if (quarter < (starts[0] ?? 0) || quarter >= endQuarter) return -1;
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] ?? 0) <= quarter) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** Sums the stored days into the buckets: counts per quarter-hour, users united per bucket and range. */
export function seriesFromDays(params: SeriesParams, buckets: Bucket[], days: SeriesDay[]): MetricSeries {
  const starts = buckets.map((b) => b.start / QUARTER_MS);
  const endQuarter = (buckets.at(-1)?.end ?? 0) / QUARTER_MS;
  const perBucket = buckets.map(() => new Map<string, Tally>());
  const totals = new Map<string, Tally>();
  const wanted = params.eventTypes.length === 0 ? undefined : new Set(params.eventTypes);
  const incomplete: string[] = [];
  for (const day of days) {
    const firstQuarter = dayNumber(day.date) * QUARTERS_PER_DAY;
    for (const typeDoc of day.types) {
      if (wanted !== undefined && !wanted.has(typeDoc.eventType)) continue;
      const total = tallyOf(totals, typeDoc.eventType);
      forEachCount(typeDoc.counts, (q, count) => {
        const b = perBucket[bucketIndex(starts, endQuarter, firstQuarter + q)];
        if (b === undefined) return;
        tallyOf(b, typeDoc.eventType).count += count;
        total.count += count;
      });
      for (const users of typeDoc.users) {
        forEachUser(users, (q, high, low) => {
          const b = perBucket[bucketIndex(starts, endQuarter, firstQuarter + q)];
          if (b === undefined) return;
          tallyOf(b, typeDoc.eventType).users.add(high, low);
          total.users.add(high, low);
        });
      }
    }
    const dayOnly = day.dayOnly.filter((c) => wanted === undefined || wanted.has(c.eventType));
    if (dayOnly.length === 0) continue;
    const first = bucketIndex(starts, endQuarter, firstQuarter);
    const last = bucketIndex(starts, endQuarter, firstQuarter + QUARTERS_PER_DAY - 1);
    if (first === -1 && last === -1) continue;
    incomplete.push(day.date);
    const b = perBucket[first];
    if (b === undefined || first !== last) continue;
    for (const { eventType, count } of dayOnly) {
      tallyOf(b, eventType).count += count;
      tallyOf(totals, eventType).count += count;
    }
  }
  return {
    from: params.from,
    to: params.to,
    tz: params.tz,
    interval: params.interval,
    series: buckets.map((bucket, i) => ({
      date: bucket.date,
      metrics: metricsOf(perBucket[i] ?? new Map<string, Tally>()),
    })),
    totals: metricsOf(totals),
    ...(incomplete.length > 0 ? { incompleteDays: incomplete } : {}),
  };
}

function bucketsIn(params: SeriesParams): Bucket[] {
  try {
    return bucketsOf(params.tz, params.interval, params.from, params.to);
  } catch (error) {
    if (!(error instanceof UnalignedZoneError)) throw error;
    throw new ValidationError(
      `tz ${params.tz} cannot be answered exactly for this range: ${error.message} (local mean time)`,
      { parameter: 'tz', value: params.tz },
    );
  }
}

/**
 * Reads the UTC days a range's buckets cover with their users documents (one range query on
 * `_id`) and sums them. Answers
 * are cached per question for `cacheMs` and then kept while the read model has not moved (see
 * answerCache), so a dashboard of a year of 50 types costs the database two small reads a period.
 */
export function createGetMetricSeries(deps: { db: Db; cacheMs?: number }) {
  const cache = createAnswerCache<MetricSeries>({
    cacheMs: deps.cacheMs ?? 0,
    stamp: () => readModelStamp(deps.db, 'metricSeries'),
  });

  async function read(params: SeriesParams): Promise<MetricSeries> {
    const buckets = bucketsIn(params);
    const first = buckets[0]?.start ?? 0;
    const end = buckets.at(-1)?.end ?? 0;
    const collection = await liveCollection<SeriesStoredDoc>(deps.db, 'metricSeries');
    const fromDay = dateOfDay(Math.floor(first / 86_400_000));
    // The last day's users documents sort after its date and before the next day's.
    const afterLastDay = dateOfDay(Math.floor((end - 1) / 86_400_000) + 1);
    const docs = await collection.find({ _id: { $gte: fromDay, $lt: afterLastDay } }).toArray();
    return seriesFromDays(params, buckets, seriesDays(docs));
  }

  // A zone refused by bucketsIn fails the compute, and a failed compute is not cached.
  function getMetricSeries(params: SeriesParams): Promise<MetricSeries> {
    return cache.get(JSON.stringify(params), () => read(params));
  }
  /** The cached answer when it is there without waiting (see answerCache); undefined otherwise. */
  function ready(params: SeriesParams): MetricSeries | undefined {
    return cache.ready(JSON.stringify(params), () => read(params));
  }
  return Object.assign(getMetricSeries, { ready });
}

export type GetMetricSeries = ReturnType<typeof createGetMetricSeries>;
