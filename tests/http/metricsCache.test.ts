import type { DailyMetricsDoc } from '../../src/projections/dailyMetrics';
import { liveCollection } from '../../src/projections/readModels';
import { startTestService, type TestService } from '../support/testService';

/** GET /api/metrics reuses a day's answer for METRICS_CACHE_MS, and reads the database when it is 0. */
describe('GET /api/metrics answer cache', () => {
  let cached: TestService;
  const day = '2024-03-05';

  beforeAll(async () => {
    cached = await startTestService({ env: { METRICS_CACHE_MS: '60000' }, workers: false });
  });

  afterAll(async () => {
    await cached.stop();
  });

  async function setCount(service: TestService, count: number): Promise<void> {
    const days = await liveCollection<DailyMetricsDoc>(service.runtime.mongo.db, 'dailyMetrics');
    await days.replaceOne(
      { _id: day },
      { date: day, counts: [{ eventType: 'click', count }], lastPosition: 0 },
      { upsert: true },
    );
  }

  async function count(service: TestService): Promise<number | undefined> {
    const res = await fetch(`${service.baseUrl}/api/metrics?date=${day}`);
    const body = (await res.json()) as { metrics: { eventType: string; count: number }[] };
    return body.metrics.find((m) => m.eventType === 'click')?.count;
  }

  it('answers from the cache within the period', async () => {
    await setCount(cached, 3);
    expect(await count(cached)).toBe(3);
    await setCount(cached, 4);
    expect(await count(cached)).toBe(3);
  });

  it('reads the database every time when the cache is off', async () => {
    const uncached = await startTestService({ env: { METRICS_CACHE_MS: '0' }, workers: false });
    try {
      await setCount(uncached, 3);
      expect(await count(uncached)).toBe(3);
      await setCount(uncached, 4);
      expect(await count(uncached)).toBe(4);
    } finally {
      await uncached.stop();
    }
  });
});
