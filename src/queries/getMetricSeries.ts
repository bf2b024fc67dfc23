import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Collection, Db, Filter } from 'mongodb';
import { QUARTER_MS } from '../events/chunkDetail';
import {
  monthDocKeys,
  monthsBetween,
  shardOf,
  wordsOf,
  USER_WORDS,
  tornMonths,
  wholeMonths,
  type Month,
  type SeriesMonthDoc,
} from '../projections/seriesMonth';
import { liveCollection } from '../projections/readModels';
import { noAnswerCache, type AnswerCache } from './answerCache';
import type { ComputeSlots } from './computeSlots';
import type { SeriesParams } from './seriesParams';
import { UserSet } from './userSet';
import { ServiceBusyError, ValidationError } from '../errors';
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
}

class Tally {
  count = 0;
  uniqueUsers = 0;
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
    .map(([eventType, t]) => ({ eventType, count: t.count, uniqueUsers: t.uniqueUsers }));
}

/**
 * One type's users while summing: the range's, and the current bucket's in a set reused from
 * bucket to bucket. A type's users arrive in time order (months in order, quarter-hours sorted in
 * each), so each bucket's come in one run; a set per (bucket, type) was most of a year's allocations.
 */
class TypeUsers {
  readonly total = new UserSet();
  readonly current = new UserSet();
  bucket: Tally | undefined;

  /** Moves on to `tally`'s bucket, recording the one before. */
  enter(tally: Tally): void {
    if (this.bucket === tally) return;
    this.close();
    this.bucket = tally;
  }

  close(): void {
    if (this.bucket !== undefined) this.bucket.uniqueUsers = this.current.size;
    this.current.clear();
    this.bucket = undefined;
  }
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

/** Sums stored months, one document at a time, into the buckets: counts per quarter-hour, users per bucket and range. */
class SeriesSum {
  private readonly starts: number[];
  private readonly endQuarter: number;
  private readonly perBucket: Map<string, Tally>[];
  private readonly totals = new Map<string, Tally>();
  private readonly users = new Map<string, TypeUsers>();
  private readonly wanted: ReadonlySet<string> | undefined;

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

  add(month: Month, doc: SeriesMonthDoc): void {
    const { wanted, totals } = this;
    for (const type of doc.types) {
      if (wanted !== undefined && !wanted.has(type.eventType)) continue;
      const total = tallyOf(totals, type.eventType);
      const counts = wordsOf(type.counts);
      for (let i = 0; i + 1 < counts.length; i += 2) {
        const b = this.bucket(month.firstQuarter + (counts[i] ?? 0));
        if (b === undefined) continue;
        const count = counts[i + 1] ?? 0;
        tallyOf(b, type.eventType).count += count;
        total.count += count;
      }
      const users = wordsOf(type.users);
      let typeUsers = this.users.get(type.eventType);
      if (typeUsers === undefined) this.users.set(type.eventType, (typeUsers = new TypeUsers()));
      let quarter = -1;
      let inRange = false;
      for (let i = 0; i + USER_WORDS <= users.length; i += USER_WORDS) {
        // Users come in quarter order: the bucket is looked up once per quarter-hour.
        if (users[i] !== quarter) {
          quarter = users[i] ?? 0;
          const b = this.bucket(month.firstQuarter + quarter);
          inRange = b !== undefined;
          if (b !== undefined) typeUsers.enter(tallyOf(b, type.eventType));
        }
        if (!inRange) continue;
        const [high, low] = [users[i + 1] ?? 0, users[i + 2] ?? 0];
        typeUsers.current.add(high, low);
        typeUsers.total.add(high, low);
      }
    }
  }

  result(): MetricSeries {
    const { params, perBucket } = this;
    for (const [eventType, typeUsers] of this.users) {
      typeUsers.close();
      tallyOf(this.totals, eventType).uniqueUsers = typeUsers.total.size;
    }
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
    };
  }
}

function wantedTypes(params: SeriesParams): ReadonlySet<string> | undefined {
  return params.eventTypes.length === 0 ? undefined : new Set(params.eventTypes);
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

/** How long summing runs before it lets the event loop answer other requests. */
const YIELD_EVERY_MS = 20;

/** Rough bytes an answer holds in memory, with its JSON and gzip made for the response. */
export function seriesBytes(answer: MetricSeries): number {
  let bytes = 256;
  const typeBytes = (metrics: TypeMetrics[]): number =>
    metrics.reduce((n, m) => n + 120 + 3 * m.eventType.length, 0);
  for (const bucket of answer.series) bytes += 96 + typeBytes(bucket.metrics);
  return bytes + typeBytes(answer.totals);
}

/**
 * How long a read that found a split month mid-page (see tornMonths) waits before each new read:
 * a page writes the month's documents one after another, so the next read usually finds them all
 * at one position; about 6 s in all before the answer is a 503.
 */
const TORN_READ_WAITS_MS = [50, 100, 200, 400, 800, 1600, 2500];

function readDocs(
  collection: Collection<SeriesMonthDoc>,
  queries: readonly Filter<SeriesMonthDoc>[],
): Promise<SeriesMonthDoc[]> {
  return Promise.all(queries.map((query) => collection.find(query).toArray())).then((docs) => docs.flat());
}

/**
 * A year's stored months of the asked months (a split one with its parts' users, see seriesMonth):
 * for every type one equality query on `year`, else one on `yearShard` per shard of the asked types:
 * a year is one query (or one per shard), not one per month or document (a FerretDB without the
 * stack's index twins scans the table for each).
 */
async function readYear(
  collection: Collection<SeriesMonthDoc>,
  year: string,
  months: ReadonlyMap<string, Month>,
  wanted: ReadonlySet<string> | undefined,
): Promise<{ month: Month; doc: SeriesMonthDoc }[]> {
  const queries =
    wanted === undefined
      ? [{ year }]
      : [...new Set([...wanted].map(shardOf))].map((shard) => ({
          yearShard: monthDocKeys(`${year}-01`, shard).yearShard,
        }));
  let found = await readDocs(collection, queries);
  let torn = tornMonths(found);
  for (const wait of TORN_READ_WAITS_MS) {
    if (torn.length === 0) break;
    await sleep(wait);
    found = await readDocs(collection, queries);
    torn = tornMonths(found);
  }
  if (torn.length > 0) {
    throw new ServiceBusyError(
      `The metric series of ${torn.join(', ')} is being written (or its writer stopped halfway and has ` +
        'not resumed yet); retry in a few seconds.',
      5,
    );
  }
  return wholeMonths(found)
    .flatMap((doc) => {
      const month = months.get(doc.month);
      return month === undefined ? [] : [{ month, doc }];
    })
    .sort((a, b) => a.month.firstQuarter - b.month.firstQuarter || byCodeUnits(a.doc._id, b.doc._id));
}

/**
 * Reads the UTC months a range's buckets cover, a year at a time, and sums them document by
 * document: types not asked for are neither read (other shards) nor decoded, and long
 * sums yield to other requests. Uncached computations take a turn from `slots`; answers are kept
 * in `cache` while the read model has not moved (see answerCache).
 */
export function createGetMetricSeries(deps: { db: Db; cache?: AnswerCache; slots?: ComputeSlots }) {
  const cache = (deps.cache ?? noAnswerCache()).answers<MetricSeries>({
    name: 'metricSeries',
    projection: 'metricSeries',
    bytesOf: seriesBytes,
  });

  async function read(params: SeriesParams): Promise<MetricSeries> {
    const buckets = bucketsIn(params);
    const collection = await liveCollection<SeriesMonthDoc>(deps.db, 'metricSeries');
    const wanted = wantedTypes(params);
    const sum = new SeriesSum(params, buckets);
    let lastYield = Date.now();
    const months = new Map(
      monthsBetween(buckets[0]?.start ?? 0, buckets.at(-1)?.end ?? 0).map((m) => [m.month, m]),
    );
    for (const year of new Set([...months.keys()].map((month) => month.slice(0, -3)))) {
      for (const { month, doc } of await readYear(collection, year, months, wanted)) {
        sum.add(month, doc);
        if (Date.now() - lastYield >= YIELD_EVERY_MS) {
          await nextTurn();
          lastYield = Date.now();
        }
      }
    }
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
