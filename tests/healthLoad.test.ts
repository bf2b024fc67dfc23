import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateServer } from './support/privateServers';
import { sample } from './support/prometheus';
import { startTestService, type TestService } from './support/testService';

/** A crowd of /health calls costs one evaluation: seen in the service's counter and in Redis's own. */

describe('GET /health under many concurrent calls', () => {
  let redis: PrivateServer;
  let service: TestService;
  let probe: Redis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    // An answer reused for the whole test, so the count does not depend on how the calls interleave.
    service = await startTestService({
      env: { REDIS_URL: redis.url },
      timings: { healthCacheMs: 60_000 },
      workers: false,
    });
    probe = new Redis(redis.url);
  });

  afterAll(async () => {
    probe.disconnect();
    await service.stop();
    await redis.destroy();
  });

  /** PING commands the private Redis has served: each health evaluation sends one. */
  async function pings(): Promise<number> {
    const info = await probe.info('commandstats');
    const match = /cmdstat_ping:calls=(\d+)/.exec(info);
    return match === null ? 0 : Number(match[1]);
  }

  async function evaluations(): Promise<number | undefined> {
    const text = await (await fetch(`${service.baseUrl}/metrics`)).text();
    return sample(text, 'ems_health_evaluations_total');
  }

  it('runs one evaluation for 200 concurrent calls, and every caller gets its answer', async () => {
    const pingsBefore = await pings();
    const answers = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const res = await fetch(`${service.baseUrl}/health`, { signal: AbortSignal.timeout(60_000) });
        return { status: res.status, body: (await res.json()) as { status: string } };
      }),
    );
    expect(answers.every((a) => a.status === 200 && a.body.status === 'ok')).toBe(true);
    expect((await pings()) - pingsBefore).toBe(1);
    expect(await evaluations()).toBe(1);
  });
});
