import { startPrivateFerretDb, startPrivateRedis, type PrivateServer } from './support/privateServers';
import { startTestService, type TestService } from './support/testService';

describe('GET /health', () => {
  let redis: PrivateServer;
  let service: TestService;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    service = await startTestService({ env: { REDIS_URL: redis.url }, workers: false });
  });

  afterAll(async () => {
    await service.stop();
    await redis.destroy();
  });

  it('answers 200 with both checks ok when MongoDB and Redis answer', async () => {
    const res = await fetch(`${service.baseUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      checks: { mongo: 'ok', redis: 'ok', projections: 'ok', uploads: 'ok' },
      projections: [],
      problems: [],
    });
  });

  it('answers 503 naming redis when Redis is stopped, and recovers', async () => {
    await redis.stop();
    const res = await fetch(`${service.baseUrl}/health`, { signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; checks: Record<string, string>; problems: string[] };
    expect(body.checks.mongo).toBe('ok');
    expect(body.checks.redis).toBe('unavailable');
    expect(body.problems).toContain('redis: unavailable');
    expect(res.headers.get('retry-after')).toBe('5');

    await redis.start();
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await fetch(`${service.baseUrl}/health`)).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });

  it('echoes a well-formed X-Correlation-ID and replaces a malformed one', async () => {
    const given = 'test-correlation-0001';
    const echoed = await fetch(`${service.baseUrl}/health`, { headers: { 'X-Correlation-ID': given } });
    expect(echoed.headers.get('x-correlation-id')).toBe(given);

    const replaced = await fetch(`${service.baseUrl}/health`, {
      headers: { 'X-Correlation-ID': 'bad id\twith spaces' },
    });
    const id = replaced.headers.get('x-correlation-id');
    expect(id).not.toBeNull();
    expect(id).not.toBe('bad id\twith spaces');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with 404 JSON', async () => {
    const res = await fetch(`${service.baseUrl}/no/such/route`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'NotFound' });
  });
});

describe('GET /health with MongoDB frozen', () => {
  let mongo: PrivateServer;
  let service: TestService;

  beforeAll(async () => {
    mongo = await startPrivateFerretDb();
    service = await startTestService({ env: { MONGODB_URI: mongo.url }, workers: false });
  });

  afterAll(async () => {
    mongo.resume();
    await service.stop();
    await mongo.destroy();
  });

  it('names every check that timed out, and after how long, in a sentence', async () => {
    expect((await fetch(`${service.baseUrl}/health`)).status).toBe(200);
    mongo.pause();
    try {
      const res = await fetch(`${service.baseUrl}/health`, { signal: AbortSignal.timeout(20_000) });
      const body = (await res.json()) as {
        status: string;
        checks: Record<string, string>;
        problems: string[];
      };
      expect(body.status).not.toBe('ok');
      expect(body.checks.projections).toBe('unknown');
      expect(body.checks.uploads).toBe('unknown');
      const timeoutMs = service.config.healthTimeoutMs;
      const sentence = (what: string) =>
        body.problems.some((p) => p.startsWith(`${what}:`) && p.includes(`timed out after ${timeoutMs} ms`));
      expect({
        problems: body.problems,
        projections: sentence('projections'),
        uploads: sentence('uploads'),
      }).toEqual({
        problems: body.problems,
        projections: true,
        uploads: true,
      });
    } finally {
      mongo.resume();
    }
  });
});

describe('GET /health with MongoDB stopped', () => {
  let mongo: PrivateServer;
  let service: TestService;

  beforeAll(async () => {
    mongo = await startPrivateFerretDb();
    service = await startTestService({ env: { MONGODB_URI: mongo.url }, workers: false });
  });

  afterAll(async () => {
    await mongo.start();
    await service.stop();
    await mongo.destroy();
  });

  it('answers 503 naming mongo when FerretDB is stopped (a hang guard, not a speed check)', async () => {
    await mongo.stop();
    const res = await fetch(`${service.baseUrl}/health`, { signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, string> };
    expect(body.checks.mongo).toBe('unavailable');
    expect(body.checks.redis).toBe('ok');
  });
});
