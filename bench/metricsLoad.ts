import autocannon from 'autocannon';
import type { Db } from 'mongodb';
import type { DailyMetricsDoc } from '../src/projections/dailyMetrics';
import { QUARTER_MS, QUARTERS_PER_DAY } from '../src/events/chunkDetail';
import { createUserFingerprint } from '../src/events/userFingerprint';
import { liveCollection } from '../src/projections/readModels';
import {
  addCounts,
  applyUserChanges,
  binaryOf,
  monthDocId,
  monthDocKeys,
  monthOfQuarter,
  shardOf,
  type SeriesMonthDoc,
} from '../src/projections/seriesMonth';

/** Any fixed key: these fingerprints only need to be consistent among themselves. */
const userFingerprint = createUserFingerprint(Buffer.from('a fixed user hash key for this file only'));

const DAYS = 365;
const EVENT_TYPES = 50;

/** A year of days (2025, apart from the uploaded data) x 50 event types in the live read model. */
export async function seedYearOfMetrics(db: Db): Promise<void> {
  const collection = await liveCollection<DailyMetricsDoc>(db, 'dailyMetrics');
  const start = Date.UTC(2025, 0, 1);
  const docs = Array.from({ length: DAYS }, (_, day): DailyMetricsDoc => {
    const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
    const counts = Array.from({ length: EVENT_TYPES }, (_, t) => ({
      eventType: `type_${String(t).padStart(2, '0')}`,
      count: day * 100 + t,
    }));
    return { _id: date, date, year: date.slice(0, 4), counts, lastPosition: 0 };
  });
  await collection.insertMany(docs, { ordered: false });
}

/**
 * The same year x 50 types in the metric series: per type and day 40 events of users drawn from
 * 10,000, at random quarter-hours (a deterministic generator, so runs compare), stored as the
 * projection stores them.
 */
export async function seedYearOfSeries(db: Db): Promise<void> {
  const collection = await liveCollection<SeriesMonthDoc>(db, 'metricSeries');
  const startQuarter = Date.UTC(2025, 0, 1) / QUARTER_MS;
  let state = 42;
  const next = (n: number): number => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
  type Added = { counts: number[]; users: number[] };
  const byDoc = new Map<string, { month: string; shard: number; types: Map<string, Added> }>();
  for (let day = 0; day < DAYS; day++) {
    for (let t = 0; t < EVENT_TYPES; t++) {
      const eventType = `type_${String(t).padStart(2, '0')}`;
      for (let i = 0; i < 40; i++) {
        const quarter = startQuarter + day * QUARTERS_PER_DAY + next(QUARTERS_PER_DAY);
        const { month, firstQuarter } = monthOfQuarter(quarter);
        const shard = shardOf(eventType);
        const id = monthDocId(month, shard);
        const doc = byDoc.get(id) ?? { month, shard, types: new Map<string, Added>() };
        byDoc.set(id, doc);
        const type: Added = doc.types.get(eventType) ?? { counts: [], users: [] };
        doc.types.set(eventType, type);
        const user = userFingerprint(`user-${next(10_000)}`);
        type.counts.push(quarter - firstQuarter, 1);
        type.users.push(quarter - firstQuarter, Number(user >> 32n), Number(user & 0xffffffffn), 1);
      }
    }
  }
  const docs = [...byDoc.values()].map(({ month, shard, types }): SeriesMonthDoc => ({
    ...monthDocKeys(month, shard),
    types: [...types]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([eventType, { counts, users }]) => ({
        eventType,
        counts: binaryOf(addCounts(new Uint32Array(0), counts)),
        users: binaryOf(applyUserChanges(new Uint32Array(0), users)),
      })),
    lastPosition: 1,
  }));
  await collection.insertMany(docs, { ordered: false });
}

export interface LoadResult {
  p50Ms: number;
  p99Ms: number;
  requestsPerSecond: number;
  errors: number;
  non2xx: number;
}

/** The year's daily series of every type. */
export const SERIES_PATH = '/api/metrics/series?from=2025-01-01&to=2025-12-31';

/**
 * `headers`: the series load sends Accept-Encoding: gzip, as every browser does. `clientThreads`:
 * autocannon worker threads. One thread parsing the series' 80 KB answers is itself the limit at
 * about 2,000 req/s (the API then used 40% of a core), so its queue, not the service, made the
 * series' tail latency; the series load runs on two, and once on one for comparison.
 */
export async function loadTestMetrics(
  baseUrl: string,
  path = '/api/metrics?date=2025-06-15',
  headers: Record<string, string> = {},
  clientThreads = 1,
): Promise<LoadResult> {
  const result = await autocannon({
    url: `${baseUrl}${path}`,
    headers,
    connections: 50,
    duration: 10,
    ...(clientThreads > 1 ? { workers: clientThreads } : {}),
  });
  return {
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requestsPerSecond: result.requests.average,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}
