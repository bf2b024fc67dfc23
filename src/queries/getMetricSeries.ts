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
import { noAnswerCache, type AnswerCache } from './answerCache';
import type { ComputeSlots } from './computeSlots';
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

/** Sums stored days, one at a time, into the buckets: counts per quarter-hour, users per bucket and range. */
class SeriesSum {
  private readonly starts: number[];
  private readonly endQuarter: number;
  private readonly perBucket: Map<string, Tally>[];
  private readonly totals = new Map<string, Tally>();
  private readonly wanted: ReadonlySet<string> | undefined;
  private readonly incomplete: string[] = [];

  constructor(
    private readonly params: SeriesParams,
    private readonly buckets: Bucket[],
  ) {
    this.starts = buckets.map((b) => b.start / QUARTER_MS);
    this.endQuarter = (buckets.at(-1)?.end ?? 0) / QUARTER_MS;
    this.perBucket = buckets.map(() => new Map<string, Tally>());
    this.wanted = wantedTypes(params);
  }

  private bucket(quarter: number): Map<string, Tally> | undefined {
    return this.perBucket[bucketIndex(this.starts, this.endQuarter, quarter)];
  }

  add(day: SeriesDay): void {
    const { wanted, totals } = this;
    const firstQuarter = dayNumber(day.date) * QUARTERS_PER_DAY;
    for (const typeDoc of day.types) {
      if (wanted !== undefined && !wanted.has(typeDoc.eventType)) continue;
      const total = tallyOf(totals, typeDoc.eventType);
      forEachCount(typeDoc.counts, (q, count) => {
        const b = this.bucket(firstQuarter + q);
        if (b === undefined) return;
        tallyOf(b, typeDoc.eventType).count += count;
        total.count += count;
      });
      for (const users of typeDoc.users) {
        forEachUser(users, (q, high, low) => {
          const b = this.bucket(firstQuarter + q);
          if (b === undefined) return;
          tallyOf(b, typeDoc.eventType).users.add(high, low);
          total.users.add(high, low);
        });
      }
    }
    const dayOnly = day.dayOnly.filter((c) => wanted === undefined || wanted.has(c.eventType));
    if (dayOnly.length === 0) return;
    const first = bucketIndex(this.starts, this.endQuarter, firstQuarter);
    const last = bucketIndex(this.starts, this.endQuarter, firstQuarter + QUARTERS_PER_DAY - 1);
    if (first === -1 && last === -1) return;
    this.incomplete.push(day.date);
    const b = this.perBucket[first];
    if (b === undefined || first !== last) return;
    for (const { eventType, count } of dayOnly) {
      tallyOf(b, eventType).count += count;
      tallyOf(totals, eventType).count += count;
    }
  }

  result(): MetricSeries {
    const { params, perBucket, incomplete } = this;
    return {
      from: params.from,
      to: params.to,
      tz: params.tz,
      interval: params.interval,
      series: this.buckets.map((bucket, i) => ({
        date: bucket.date,
        metrics: metricsOf(perBucket[i] ?? new Map<string, Tally>()),
      })),
      totals: metricsOf(this.totals),
      ...(incomplete.length > 0 ? { incompleteDays: incomplete } : {}),
    };
  }
}

function wantedTypes(params: SeriesParams): ReadonlySet<string> | undefined {
  return params.eventTypes.length === 0 ? undefined : new Set(params.eventTypes);
}

/** Sums the stored days into the buckets (days sorted by date). */
export function seriesFromDays(params: SeriesParams, buckets: Bucket[], days: SeriesDay[]): MetricSeries {
  const sum = new SeriesSum(params, buckets);
  for (const day of days) sum.add(day);
  return sum.result();
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

/** Documents fetched per round trip: a busy day of many types is megabytes, so a year is read in small pieces. */
const DOCS_PER_BATCH = 16;
/** How long summing runs before it lets the event loop answer other requests. */
const YIELD_EVERY_MS = 20;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Rough bytes an answer holds in memory, with its JSON and gzip made for the response. */
export function seriesBytes(answer: MetricSeries): number {
  let bytes = 256;
  const typeBytes = (metrics: TypeMetrics[]): number =>
    metrics.reduce((n, m) => n + 120 + 3 * m.eventType.length, 0);
  for (const bucket of answer.series) bytes += 96 + typeBytes(bucket.metrics);
  return bytes + typeBytes(answer.totals) + 16 * (answer.incompleteDays?.length ?? 0);
}

/**
 * Reads the UTC days a range's buckets cover with their users documents (one range query on
 * `_id`, in `_id` order, so each day comes with its users documents after it) and sums them day by
 * day: only a few days are in memory at once, types not asked for are dropped before their users
 * are looked at, and long sums yield to other requests. Uncached computations take a turn from
 * `slots`; answers are kept in `cache` while the read model has not moved (see answerCache).
 */
export function createGetMetricSeries(deps: { db: Db; cache?: AnswerCache; slots?: ComputeSlots }) {
  const cache = (deps.cache ?? noAnswerCache()).answers<MetricSeries>({
    name: 'metricSeries',
    projection: 'metricSeries',
    bytesOf: seriesBytes,
  });

  async function read(params: SeriesParams): Promise<MetricSeries> {
    const buckets = bucketsIn(params);
    const first = buckets[0]?.start ?? 0;
    const end = buckets.at(-1)?.end ?? 0;
    const collection = await liveCollection<SeriesStoredDoc>(deps.db, 'metricSeries');
    const fromDay = dateOfDay(Math.floor(first / 86_400_000));
    // The last day's users documents sort after its date and before the next day's.
    const afterLastDay = dateOfDay(Math.floor((end - 1) / 86_400_000) + 1);
    const wanted = wantedTypes(params);
    const sum = new SeriesSum(params, buckets);
    let day: SeriesStoredDoc[] = [];
    let lastYield = Date.now();
    const addDay = async (): Promise<void> => {
      for (const one of seriesDays(day, wanted)) sum.add(one);
      day = [];
      if (Date.now() - lastYield >= YIELD_EVERY_MS) {
        await nextTurn();
        lastYield = Date.now();
      }
    };
    const cursor = collection
      .find({ _id: { $gte: fromDay, $lt: afterLastDay } })
      .sort({ _id: 1 })
      .batchSize(DOCS_PER_BATCH);
    for await (const doc of cursor) {
      if (day[0] !== undefined && day[0].date !== doc.date) await addDay();
      day.push(doc);
    }
    await addDay();
    return sum.result();
  }

  const compute = (params: SeriesParams) => (): Promise<MetricSeries> =>
    deps.slots === undefined ? read(params) : deps.slots.run(() => read(params));

  // A zone refused by bucketsIn fails the compute, and a failed compute is not cached.
  function getMetricSeries(params: SeriesParams): Promise<MetricSeries> {
    return cache.get(JSON.stringify(params), compute(params));
  }
  /** `getMetricSeries` when its answer is cached (see answerCache); undefined otherwise. */
  function ready(params: SeriesParams): Promise<MetricSeries> | undefined {
    return cache.ready(JSON.stringify(params), compute(params));
  }
  return Object.assign(getMetricSeries, { ready });
}

export type GetMetricSeries = ReturnType<typeof createGetMetricSeries>;
