import autocannon from 'autocannon';
import type { Db } from 'mongodb';
import type { DailyMetricsDoc } from '../src/projections/dailyMetrics';
import { liveCollection } from '../src/projections/readModels';

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

export interface LoadResult {
  p50Ms: number;
  p99Ms: number;
  requestsPerSecond: number;
  errors: number;
  non2xx: number;
}

export async function loadTestMetrics(baseUrl: string): Promise<LoadResult> {
  const result = await autocannon({
    url: `${baseUrl}/api/metrics?date=2025-06-15`,
    connections: 50,
    duration: 10,
  });
  return {
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requestsPerSecond: result.requests.average,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}
