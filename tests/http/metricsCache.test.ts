import type { DailyMetricsDoc } from '../../src/projections/dailyMetrics';
import { liveCollection } from '../../src/projections/readModels';
import { replaceStamp } from '../../src/projections/readModelStamps';
import { createAnswerCache, createReadModelStamps } from '../../src/queries/answerCache';
import { rawGet } from '../support/rawGet';
import { startTestService, type TestService } from '../support/testService';

/** GET /api/metrics reuses a day's answer while the read model has not moved, and reads the database when METRICS_CACHE_BYTES is 0. */
describe('GET /api/metrics answer cache', () => {
  let cached: TestService;
  const day = '2024-03-05';

  beforeAll(async () => {
    cached = await startTestService({ env: { METRICS_CACHE_BYTES: '67108864' }, workers: false });
  });

  afterAll(async () => {
    await cached.stop();
  });

  async function setCount(service: TestService, count: number): Promise<void> {
    const days = await liveCollection<DailyMetricsDoc>(service.runtime.mongo.db, 'dailyMetrics');
    await days.replaceOne(
      { _id: day },
      { date: day, year: day.slice(0, 4), counts: [{ eventType: 'click', count }], lastPosition: 0 },
      { upsert: true },
    );
  }

  async function count(service: TestService): Promise<number | undefined> {
    const res = await fetch(`${service.baseUrl}/api/metrics?date=${day}`);
    const body = (await res.json()) as { metrics: { eventType: string; count: number }[] };
    return body.metrics.find((m) => m.eventType === 'click')?.count;
  }

  it('answers from the cache while the read model has not moved', async () => {
    await setCount(cached, 3);
    expect(await count(cached)).toBe(3);
    await setCount(cached, 4);
    expect(await count(cached)).toBe(3);
  });

  it('answers the new counts at the first request after the read model has moved', async () => {
    const { redis, config } = cached.runtime;
    /** What a projector does after writing, before saving its checkpoint: replaces the stamp. */
    const projected = async (n: number) => {
      await setCount(cached, n);
      await replaceStamp(redis, config.redis.prefix, 'dailyMetrics');
    };
    await projected(5);
    // Once to compute, once from the cache: the cached answer is there.
    expect(await count(cached)).toBe(5);
    expect(await count(cached)).toBe(5);
    await projected(6);
    expect(await count(cached)).toBe(6);
  });

  it('keeps answers up to its bound in bytes, dropping the least recently used first', async () => {
    const cache = createAnswerCache({
      maxBytes: 1000,
      stamps: createReadModelStamps(cached.runtime.redis, cached.runtime.config.redis.prefix),
    });
    const computed: string[] = [];
    const answers = cache.answers<string>({
      name: 'test',
      projection: 'dailyMetrics',
      bytesOf: () => 400,
    });
    const ask = (key: string) =>
      answers.get(key, () => {
        computed.push(key);
        return Promise.resolve(key);
      });
    await ask('a');
    await ask('b');
    await ask('a');
    expect(computed).toEqual(['a', 'b']);
    // A third answer passes 1000 bytes: b, used least recently, goes.
    await ask('c');
    expect(cache.bytes).toBe(800);
    await ask('a');
    await ask('c');
    expect(computed).toEqual(['a', 'b', 'c']);
    await ask('b');
    expect(computed).toEqual(['a', 'b', 'c', 'b']);
    expect(cache.bytes).toBeLessThanOrEqual(1000);
  });

  it('computes every answer, caching none, while the stamps cannot be read (Redis down)', async () => {
    let redisUp = true;
    const cache = createAnswerCache({
      maxBytes: 1000,
      stamps: () =>
        redisUp
          ? Promise.resolve({ dailyMetrics: 's', batchStatus: 's', metricSeries: 's' })
          : Promise.reject(new Error('connect ECONNREFUSED')),
    });
    let computed = 0;
    const answers = cache.answers<number>({ name: 'test', projection: 'dailyMetrics', bytesOf: () => 8 });
    const ask = () => answers.get('a', () => Promise.resolve((computed += 1)));
    expect(await ask()).toBe(1);
    expect(await ask()).toBe(1);
    redisUp = false;
    expect(await ask()).toBe(2);
    expect(await ask()).toBe(3);
  });

  it('sends an ETag that changes with the counts, and 304 with no body for a matching If-None-Match', async () => {
    const uncached = await startTestService({ env: { METRICS_CACHE_BYTES: '0' }, workers: false });
    try {
      const url = `${uncached.baseUrl}/api/metrics?date=${day}`;
      await setCount(uncached, 7);
      const first = await fetch(url);
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await first.json()).toEqual({ date: day, metrics: [{ eventType: 'click', count: 7 }] });
      const etag = first.headers.get('etag') ?? '';
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

      const unchanged = await conditionalGet(url, etag);
      expect(unchanged).toEqual({ status: 304, etag, body: '' });

      await setCount(uncached, 8);
      const changed = await conditionalGet(url, etag);
      expect(changed.status).toBe(200);
      expect(changed.etag).not.toBe(etag);
      expect(JSON.parse(changed.body)).toEqual({ date: day, metrics: [{ eventType: 'click', count: 8 }] });
    } finally {
      await uncached.stop();
    }
  });

  /**
   * A GET with If-None-Match, over node:http: fetch adds `Cache-Control: no-cache` to any request
   * carrying a validator, and a server rightly never answers such a request with 304.
   */
  async function conditionalGet(
    url: string,
    etag: string,
  ): Promise<{ status: number; etag: string; body: string }> {
    const answer = await rawGet(url, { 'If-None-Match': etag });
    return { status: answer.status, etag: String(answer.headers.etag), body: answer.body.toString('utf8') };
  }

  it('reads the database every time when the cache is off', async () => {
    const uncached = await startTestService({ env: { METRICS_CACHE_BYTES: '0' }, workers: false });
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
