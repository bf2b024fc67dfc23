import { expectDocumented } from '../support/openapi';
import { startPrivateFerretDb, startPrivateRedis, type PrivateServer } from '../support/privateServers';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * Stops a private MongoDB (FerretDB) and Redis under a running service: the real routes that need
 * them answer 503 with Retry-After within seconds (an unreachable MongoDB after its 5 s server selection), in the documented
 * shape, and /metrics keeps answering.
 */
describe('dependencies down', () => {
  let mongo: PrivateServer;
  let redis: PrivateServer;
  let service: TestService;
  let batchId: string;

  beforeAll(async () => {
    [mongo, redis] = await Promise.all([startPrivateFerretDb(), startPrivateRedis()]);
    service = await startTestService({
      workers: false,
      env: { MONGODB_URI: mongo.url, REDIS_URL: redis.url },
    });
  });

  afterAll(async () => {
    await service.stop();
    await Promise.all([mongo.destroy(), redis.destroy()]);
  });

  async function timed(path: string, method = 'GET'): Promise<{ res: Response; ms: number; body: unknown }> {
    const started = Date.now();
    const res = await fetch(`${service.baseUrl}${path}`, { method });
    const ms = Date.now() - started;
    const body: unknown = res.headers.get('content-type')?.includes('json')
      ? await res.json()
      : await res.text();
    return { res, ms, body };
  }

  function expectUnavailable(
    route: string,
    reply: { res: Response; ms: number; body: unknown },
    dependency: string,
  ) {
    expect(reply.res.status).toBe(503);
    // A hang guard, not a speed check: an unreachable MongoDB fails server selection after 5 s.
    expect(reply.ms).toBeLessThan(30_000);
    expect(reply.res.headers.get('retry-after')).toBe('5');
    expect(reply.res.headers.get('x-correlation-id')).toBeTruthy();
    expect(reply.body).toEqual({ error: 'ServiceUnavailable', message: `${dependency} is unavailable` });
    expectDocumented(route, { status: reply.res.status, body: reply.body });
  }

  it('answers while both are up', async () => {
    const uploaded = await uploadCsv(service.baseUrl, csvOfRows(5));
    expect(uploaded.status).toBe(201);
    batchId = uploaded.body.batchId as string;
    expect((await timed('/api/metrics?date=2024-01-15')).res.status).toBe(200);
  });

  it('answers 503 with Retry-After when Redis is stopped; /metrics still answers', async () => {
    await redis.stop();
    // Reading the batch needs only MongoDB; enqueuing its jobs needs Redis.
    expectUnavailable(
      'POST /api/batches/{id}/process',
      await timed(`/api/batches/${batchId}/process`, 'POST'),
      'redis',
    );

    const metrics = await timed('/metrics');
    expect(metrics.res.status).toBe(200);
    expect(metrics.ms).toBeLessThan(2000);
    expect(metrics.body).not.toMatch(/^ems_queue_jobs\{/m);

    const health = await timed('/health');
    expect(health.res.status).toBe(503);
    expect(health.ms).toBeLessThan(2000);
    expect(health.res.headers.get('retry-after')).toBe('5');
    await redis.start();
  });

  it('enqueues the batch once Redis is back', async () => {
    await waitFor(
      () => Promise.resolve(service.runtime.redis.status),
      (status) => status === 'ready',
      10_000,
      'the request connection to reconnect',
    );
    const reply = await timed(`/api/batches/${batchId}/process`, 'POST');
    expect(reply.res.status).toBe(202);
    expect(reply.body).toMatchObject({ batchId, jobsEnqueued: 1 });
  });

  it('answers 503 with Retry-After when MongoDB is stopped', async () => {
    await mongo.stop();
    expectUnavailable('GET /api/metrics', await timed('/api/metrics?date=2024-01-15'), 'mongo');
    expectUnavailable(
      'POST /api/batches/{id}/process',
      await timed(`/api/batches/${batchId}/process`, 'POST'),
      'mongo',
    );

    const metrics = await timed('/metrics');
    expect(metrics.res.status).toBe(200);
    expect(metrics.ms).toBeLessThan(2000);
    await mongo.start();
  });
});
