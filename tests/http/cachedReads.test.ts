import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildHttpHandlers } from '../../src/compose';
import type { DailyMetricsDoc } from '../../src/projections/dailyMetrics';
import { liveCollection } from '../../src/projections/readModels';
import { sample } from '../support/prometheus';
import { rawGet, type RawAnswer } from '../support/rawGet';
import { startTestService, type TestService } from '../support/testService';

/**
 * The cached-read front answers GET /api/metrics and /api/metrics/series from the queries' caches
 * without Express. Here the Express app and the front each get a server of their own (sharing one
 * set of queries, as in the service), and the front's server answers 599 whatever the front
 * leaves to Express: a request first sent to Express and then to the front must get the same
 * status, headers and bytes from both.
 */
describe('cached-read front', () => {
  let service: TestService;
  let expressOnly: string;
  let frontOnly: string;
  const servers: Server[] = [];
  const day = '2024-03-05';

  function listen(server: Server): Promise<string> {
    servers.push(server);
    return new Promise((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      });
    });
  }

  beforeAll(async () => {
    service = await startTestService({ env: { METRICS_CACHE_BYTES: '67108864' }, workers: false });
    const days = await liveCollection<DailyMetricsDoc>(service.runtime.mongo.db, 'dailyMetrics');
    await days.insertOne({
      _id: day,
      date: day,
      year: day.slice(0, 4),
      counts: [
        { eventType: 'click', count: 3 },
        { eventType: 'view', count: 5 },
      ],
      lastPosition: 0,
    });
    const handlers = buildHttpHandlers(service.runtime);
    expressOnly = await listen(createServer(handlers.app));
    frontOnly = await listen(
      createServer((req, res) => {
        if (handlers.answeredFromCache(req, res)) return;
        res.statusCode = 599;
        res.end('left to Express');
      }),
    );
  });

  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    await service.stop();
  });

  function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET') {
    return rawGet(`${base}${path}`, headers, method);
  }

  /** What must be the same: everything but the per-request id and the clock. */
  function comparable({ status, headers, body }: RawAnswer) {
    const { date: _date, 'x-correlation-id': _id, ...rest } = headers;
    return { status, headers: rest, body: body.toString('base64') };
  }

  const series = '/api/metrics/series?from=2024-01-01&to=2024-12-31';
  const cases: [string, Record<string, string>][] = [
    [`/api/metrics?date=${day}`, {}],
    [`/api/metrics?date=${day}&tz=Asia/Kolkata`, {}],
    ['/api/metrics', {}],
    [series, { 'Accept-Encoding': 'gzip' }],
    [series, {}],
    [`${series}&format=csv`, { 'Accept-Encoding': 'gzip' }],
    [series, { Accept: 'text/csv' }],
    [`${series}&eventType=click,view&interval=week&tz=America/New_York`, { 'Accept-Encoding': 'gzip' }],
  ];

  it.each(cases)('answers %s %j as Express does once the answer is cached', async (path, headers) => {
    const fromExpress = await get(expressOnly, path, headers);
    expect(fromExpress.status).toBe(200);
    const fromFront = await get(frontOnly, path, headers);
    expect(comparable(fromFront)).toEqual(comparable(fromExpress));

    const etag = String(fromExpress.headers.etag);
    const conditional = { ...headers, 'If-None-Match': etag };
    const notModified = await get(frontOnly, path, conditional);
    expect(notModified.status).toBe(304);
    expect(comparable(notModified)).toEqual(comparable(await get(expressOnly, path, conditional)));
  });

  it('sends the cached counts, the security headers and a correlation id', async () => {
    await get(expressOnly, `/api/metrics?date=${day}`);
    const answer = await get(frontOnly, `/api/metrics?date=${day}`, { 'X-Correlation-ID': 'dashboard-0001' });
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({
      date: day,
      metrics: [
        { eventType: 'click', count: 3 },
        { eventType: 'view', count: 5 },
      ],
    });
    expect(answer.headers['x-correlation-id']).toBe('dashboard-0001');
    expect(answer.headers['content-security-policy']).toContain("default-src 'self'");
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    const made = await get(frontOnly, `/api/metrics?date=${day}`, { 'X-Correlation-ID': 'bad id!' });
    expect(made.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts its answers in the request metrics', async () => {
    await get(expressOnly, `/api/metrics?date=${day}`);
    const series = 'ems_http_requests_total{method="GET",route="/api/metrics",status="200"}';
    const before = sample((await get(expressOnly, '/metrics')).body.toString('utf8'), series) ?? 0;
    await get(frontOnly, `/api/metrics?date=${day}`);
    await get(frontOnly, `/api/metrics?date=${day}`);
    expect(sample((await get(expressOnly, '/metrics')).body.toString('utf8'), series)).toBe(before + 2);
  });

  it('leaves to Express what it does not answer the same way', async () => {
    const path = `/api/metrics?date=${day}`;
    await get(expressOnly, path);
    expect((await get(frontOnly, path)).status).toBe(200);
    // A question not asked before: its answer is not cached yet.
    expect((await get(frontOnly, '/api/metrics?date=2024-03-06')).status).toBe(599);
    expect((await get(frontOnly, `${series}&eventType=purchase`)).status).toBe(599);
    expect((await get(frontOnly, path, {}, 'HEAD')).status).toBe(599);
    expect((await get(frontOnly, path, {}, 'POST')).status).toBe(599);
    expect((await get(frontOnly, path, { Origin: 'http://elsewhere.example' })).status).toBe(599);
    expect((await get(frontOnly, `/api/metrics/?date=${day}`)).status).toBe(599);
    expect((await get(frontOnly, `/api/metrics?date=${day}&tz=Mars/Olympus`)).status).toBe(599);
    expect((await get(frontOnly, '/api/metrics?date=2024-02-31')).status).toBe(599);
    expect((await get(frontOnly, `${series}&interval=year`)).status).toBe(599);
  });
});
