import autocannon from 'autocannon';
import type { Db } from 'mongodb';
import type { DailyMetricsDoc } from '../src/projections/dailyMetrics';
import { QUARTERS_PER_DAY } from '../src/events/chunkDetail';
import { userFingerprint } from '../src/events/userFingerprint';
import { liveCollection } from '../src/projections/readModels';
import {
  emptyTypeDay,
  encodeCounts,
  encodeUsers,
  usersDocId,
  type SeriesStoredDoc,
} from '../src/projections/seriesDay';

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
    return { _id: date, date, counts, lastPosition: 0 };
  });
  await collection.insertMany(docs, { ordered: false });
}

/**
 * The same year x 50 types in the metric series: per type and day 40 events of users drawn from
 * 10,000, at random quarter-hours (a deterministic generator, so runs compare); each day's users in
 * one users document, as a rebuild writes them.
 */
export async function seedYearOfSeries(db: Db): Promise<void> {
  const collection = await liveCollection<SeriesStoredDoc>(db, 'metricSeries');
  const start = Date.UTC(2025, 0, 1);
  let state = 42;
  const next = (n: number): number => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
  const docs = Array.from({ length: DAYS }, (_, day): SeriesStoredDoc[] => {
    const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
    const types = Array.from({ length: EVENT_TYPES }, (_, t) => {
      const typeDay = emptyTypeDay();
      for (let i = 0; i < 40; i++) {
        const quarter = next(QUARTERS_PER_DAY);
        typeDay.counts[quarter] = (typeDay.counts[quarter] ?? 0) + 1;
        typeDay.users[quarter]?.add(userFingerprint(`user-${next(10_000)}`));
      }
      return { eventType: `type_${String(t).padStart(2, '0')}`, typeDay };
    });
    return [
      {
        _id: date,
        date,
        types: types.map(({ eventType, typeDay }) => ({ eventType, counts: encodeCounts(typeDay.counts) })),
        dayOnly: [],
        lastPosition: 1,
      },
      {
        _id: usersDocId(date, 1),
        date,
        position: 1,
        types: types.map(({ eventType, typeDay }) => ({ eventType, users: encodeUsers(typeDay.users) })),
      },
    ];
  });
  await collection.insertMany(docs.flat(), { ordered: false });
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
