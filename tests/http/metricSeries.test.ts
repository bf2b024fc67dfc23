import { gunzipSync } from 'node:zlib';
import { createComputeSlots } from '../../src/queries/computeSlots';
import { createGetMetricSeries } from '../../src/queries/getMetricSeries';
import { rawGet } from '../support/rawGet';
import { projectionsCaughtUp } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { batchStatusOf, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * The series contract through HTTP against the real stack: upload, process, then ask. The file's
 * events sit on either side of local midnights in Kathmandu (+05:45), Kolkata (+05:30) and of
 * Berlin's 23-hour and New York's 25-hour days.
 */
const CSV = [
  'userId,eventType,timestamp',
  // Kathmandu: 23:59 on Jan 14 and 00:00 on Jan 15; Kolkata: 23:44 and 23:45 on Jan 14.
  'u1,click,2024-01-14T18:14:00Z',
  'u2,click,2024-01-14T18:15:00Z',
  'u1,click,2024-01-14T18:30:00Z',
  'u3,purchase,2024-01-15T12:00:00Z',
  'u1,purchase,2024-01-16T09:00:00Z',
  // Berlin's Mar 31 runs 2024-03-30T23:00Z to 2024-03-31T22:00Z (23 hours).
  'u1,view,2024-03-30T22:59:00Z',
  'u2,view,2024-03-30T23:00:00Z',
  'u3,view,2024-03-31T21:59:00Z',
  'u4,view,2024-03-31T22:00:00Z',
  // New York's Nov 3 runs 2024-11-03T04:00Z to 2024-11-04T05:00Z (25 hours).
  'u1,view,2024-11-03T03:59:00Z',
  'u2,view,2024-11-03T04:00:00Z',
  'u2,view,2024-11-04T04:59:00Z',
  'u3,view,2024-11-04T05:00:00Z',
].join('\n');

describe('GET /api/metrics/series', () => {
  let service: TestService;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${service.baseUrl}${path}`, { headers });
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json')
      ? (JSON.parse(text) as unknown)
      : undefined;
    return { status: res.status, headers: res.headers, text, body: json as Record<string, unknown> };
  };
  const series = async (query: string) => {
    const reply = await get(`/api/metrics/series?${query}`);
    expect(reply.status).toBe(200);
    return reply.body as unknown as {
      series: { date: string; metrics: { eventType: string; count: number; uniqueUsers: number }[] }[];
      totals: { eventType: string; count: number; uniqueUsers: number }[];
    };
  };
  const counts = (answer: Awaited<ReturnType<typeof series>>) =>
    Object.fromEntries(
      answer.series.map((b) => [
        b.date,
        b.metrics.map((m) => `${m.eventType}:${m.count}/${m.uniqueUsers}`).join(' '),
      ]),
    );

  beforeAll(async () => {
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '4' } });
    const upload = await uploadCsv(service.baseUrl, CSV);
    expect(upload.status).toBe(201);
    const batchId = upload.body.batchId as string;
    expect(
      (await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' })).status,
    ).toBe(202);
    await waitFor(
      async () => ((await get(`/api/batches/${batchId}`)).body as { status: string }).status,
      (s) => s === 'completed',
      60_000,
      'batch completed',
    );
    await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
  });
  afterAll(async () => {
    await service.stop();
  });

  it('answers every bucket of the range, types sorted, totals distinct over the range', async () => {
    const answer = await series('from=2024-01-13&to=2024-01-16');
    expect(answer).toEqual({
      from: '2024-01-13',
      to: '2024-01-16',
      tz: 'UTC',
      interval: 'day',
      series: [
        { date: '2024-01-13', metrics: [] },
        { date: '2024-01-14', metrics: [{ eventType: 'click', count: 3, uniqueUsers: 2 }] },
        { date: '2024-01-15', metrics: [{ eventType: 'purchase', count: 1, uniqueUsers: 1 }] },
        { date: '2024-01-16', metrics: [{ eventType: 'purchase', count: 1, uniqueUsers: 1 }] },
      ],
      totals: [
        { eventType: 'click', count: 3, uniqueUsers: 2 },
        { eventType: 'purchase', count: 2, uniqueUsers: 2 },
      ],
    });
  });

  it('runs a local day from local midnight to local midnight in 45- and 30-minute zones', async () => {
    expect(counts(await series('from=2024-01-14&to=2024-01-15&tz=Asia/Kathmandu'))).toEqual({
      '2024-01-14': 'click:1/1',
      '2024-01-15': 'click:2/2 purchase:1/1',
    });
    expect(counts(await series('from=2024-01-14&to=2024-01-15&tz=Asia/Kolkata'))).toEqual({
      '2024-01-14': 'click:2/2',
      '2024-01-15': 'click:1/1 purchase:1/1',
    });
  });

  it('gives DST days their 23 and 25 hours', async () => {
    expect(counts(await series('from=2024-03-30&to=2024-04-01&tz=Europe/Berlin&eventType=view'))).toEqual({
      '2024-03-30': 'view:1/1',
      '2024-03-31': 'view:2/2',
      '2024-04-01': 'view:1/1',
    });
    expect(counts(await series('from=2024-11-02&to=2024-11-04&tz=America/New_York&eventType=view'))).toEqual({
      '2024-11-02': 'view:1/1',
      '2024-11-03': 'view:2/1',
      '2024-11-04': 'view:1/1',
    });
  });

  it('buckets ISO weeks from Monday and calendar months, and filters types repeated or comma-separated', async () => {
    const weeks = await series('from=2024-01-10&to=2024-01-21&interval=week&tz=Asia/Kathmandu');
    expect(counts(weeks)).toEqual({ '2024-01-08': 'click:1/1', '2024-01-15': 'click:2/2 purchase:2/2' });
    const months = await series(
      'from=2024-01-01&to=2024-12-31&interval=month&eventType=view&eventType=purchase',
    );
    expect(months.series).toHaveLength(12);
    expect(counts(months)['2024-03-01']).toBe('view:4/4');
    expect(counts(months)['2024-11-01']).toBe('view:4/3');
    expect(counts(months)['2024-02-01']).toBe('');
    expect(months.totals).toEqual([
      { eventType: 'purchase', count: 2, uniqueUsers: 2 },
      { eventType: 'view', count: 8, uniqueUsers: 4 },
    ]);
    const comma = await series('from=2024-01-01&to=2024-12-31&interval=month&eventType=purchase,view');
    expect(comma.series).toEqual(months.series);
  });

  it('downloads CSV with Accept: text/csv or format=csv', async () => {
    const byHeader = await get('/api/metrics/series?from=2024-01-14&to=2024-01-16', { Accept: 'text/csv' });
    expect(byHeader.status).toBe(200);
    expect(byHeader.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(byHeader.headers.get('content-disposition')).toBe(
      'attachment; filename="metrics-2024-01-14-2024-01-16.csv"',
    );
    expect(byHeader.text).toBe(
      'date,eventType,count,uniqueUsers\r\n2024-01-14,click,3,2\r\n2024-01-15,purchase,1,1\r\n2024-01-16,purchase,1,1\r\n',
    );
    const byParam = await get('/api/metrics/series?from=2024-01-14&to=2024-01-16&format=csv');
    expect(byParam.text).toBe(byHeader.text);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get('/api/metrics/series?from=2024-01-14&to=2024-01-16');
    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^".+"$/);
    // Over node:http: fetch adds Cache-Control: no-cache to a request carrying a validator.
    const { status } = await rawGet(`${service.baseUrl}/api/metrics/series?from=2024-01-14&to=2024-01-16`, {
      'If-None-Match': etag,
    });
    expect(status).toBe(304);
  });

  it('never answers from before the read model a client saw move: the first ask after it has the new counts', async () => {
    const cached = await startTestService({
      env: { METRICS_CACHE_BYTES: '67108864' },
    });
    try {
      const seriesCount = async (query: string) => {
        const res = await fetch(`${cached.baseUrl}/api/metrics/series?${query}`);
        expect(res.status).toBe(200);
        return ((await res.json()) as { totals: { count: number }[] }).totals[0]?.count ?? 0;
      };
      const dailyCount = async () => {
        const res = await fetch(`${cached.baseUrl}/api/metrics?date=2024-05-01`);
        expect(res.status).toBe(200);
        return ((await res.json()) as { metrics: { count: number }[] }).metrics[0]?.count ?? 0;
      };
      const ask = async () => [
        await seriesCount('from=2024-05-01&to=2024-05-01'),
        await seriesCount('from=2024-05-01&to=2024-05-01&tz=Asia/Kolkata'),
        await dailyCount(),
      ];
      const uploadAndProcess = async (user: string) => {
        const reply = await uploadCsv(
          cached.baseUrl,
          `userId,eventType,timestamp\n${user},a,2024-05-01T10:00:00Z\n`,
        );
        const batchId = reply.body.batchId as string;
        await fetch(`${cached.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
        await waitFor(
          () => batchStatusOf(cached.baseUrl, batchId),
          (status) => status === 'completed',
          60_000,
          'batch completed',
        );
        await projectionsCaughtUp(cached.runtime.mongo.db, cached.runtime.eventLog);
      };
      await uploadAndProcess('x1');
      expect(await ask()).toEqual([1, 1, 1]);
      // Asked twice: the second answer comes from the cache (and its fast path), still right.
      expect(await ask()).toEqual([1, 1, 1]);
      await uploadAndProcess('x2');
      expect(await ask()).toEqual([2, 2, 2]);
    } finally {
      await cached.stop();
    }
  });

  it('refuses an uncached series with ServiceBusy (503, Retry-After) while the turns to compute are taken', async () => {
    const slots = createComputeSlots({ concurrent: 1, waiting: 0, retryAfterSeconds: 5 });
    const getSeries = createGetMetricSeries({ db: service.runtime.mongo.db, slots });
    const question = {
      from: '2024-01-14',
      to: '2024-01-16',
      tz: 'UTC',
      interval: 'day' as const,
      eventTypes: [],
    };
    let release: () => void = () => undefined;
    const taken = slots.run(() => new Promise<void>((resolve) => (release = resolve)));
    await expect(getSeries(question)).rejects.toMatchObject({ code: 'ServiceBusy', retryAfterSeconds: 5 });
    release();
    await taken;
    expect((await getSeries(question)).totals.map((t) => t.eventType)).toEqual(['click', 'purchase']);
  });

  it.each([
    ['from=2024-01-01', 'to'],
    ['from=2024-02-30&to=2024-03-01', 'from'],
    ['from=2024-01-02&to=2024-01-01', 'to'],
    ['from=2024-01-01&to=2025-01-01', 'to'],
    ['from=2024-01-01&to=2024-01-02&tz=Mars/Olympus', 'tz'],
    ['from=2024-01-01&to=2024-01-02&tz=UTC&tz=UTC', 'tz'],
    ['from=2024-01-01&to=2024-01-02&interval=hour', 'interval'],
    ['from=2024-01-01&to=2024-01-02&eventType=', 'eventType'],
    ['from=2024-01-01&to=2024-01-02&format=xml', 'format'],
    // 101 names in one parameter: the names are counted, not the parameters.
    [
      `from=2024-01-01&to=2024-01-02&eventType=${Array.from({ length: 101 }, (_, i) => `t${i}`).join(',')}`,
      'eventType',
    ],
    [
      `from=2024-01-01&to=2024-01-02&eventType=${Array.from({ length: 101 }, (_, i) => `t${i}`).join('&eventType=')}`,
      'eventType',
    ],
    ['from=1800-01-01&to=1800-01-02&tz=America/New_York', 'tz'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    const reply = await get(`/api/metrics/series?${query}`);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'ValidationError', details: { parameter } });
    expect(reply.body.message).toContain(parameter);
  });

  it('gzips a large answer for a client that accepts it, with an ETag of its own', async () => {
    const path = '/api/metrics/series?from=2024-01-01&to=2024-12-31';
    const get = (encoding: string) => rawGet(`${service.baseUrl}${path}`, { 'Accept-Encoding': encoding });
    const plain = await get('identity');
    const zipped = await get('gzip');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.body.length / 4);
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(plain.body.toString('utf8'));
    expect(zipped.headers.etag).not.toBe(plain.headers.etag);
    expect(zipped.headers.vary).toMatch(/Accept-Encoding/);
  });

  it('accepts a year of days, and longer ranges of weeks and months', async () => {
    expect((await series('from=2024-01-01&to=2024-12-31')).series).toHaveLength(366);
    expect((await series('from=2020-01-01&to=2024-12-31&interval=month')).series).toHaveLength(60);
  });

  it('keeps GET /api/metrics?date= as it was, and answers a local day with tz', async () => {
    const utc = await get('/api/metrics?date=2024-01-14');
    expect(utc.body).toEqual({ date: '2024-01-14', metrics: [{ eventType: 'click', count: 3 }] });
    expect((await get('/api/metrics?date=2024-01-14&tz=UTC')).body).toEqual(utc.body);
    expect((await get('/api/metrics?date=2024-01-14&tz=Asia/Kathmandu')).body).toEqual({
      date: '2024-01-14',
      metrics: [{ eventType: 'click', count: 1 }],
    });
    const bad = await get('/api/metrics?date=2024-01-14&tz=Nowhere/Land');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ details: { parameter: 'tz' } });
  });
});
