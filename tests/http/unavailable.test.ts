import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { correlationId } from '../../src/http/correlationId';
import { errorResponder } from '../../src/http/errorMapping';
import { startPrivateFerretDb, startPrivateRedis, type PrivateServer } from '../support/privateServers';
import { startTestService, type TestService } from '../support/testService';

/**
 * Stops a private MongoDB (FerretDB) and Redis under a running service: requests that need them get
 * 503 with Retry-After within two seconds (the limit the issue sets), and /metrics keeps answering.
 */
describe('dependencies down', () => {
  let mongo: PrivateServer;
  let redis: PrivateServer;
  let service: TestService;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    [mongo, redis] = await Promise.all([startPrivateFerretDb(), startPrivateRedis()]);
    service = await startTestService({
      workers: false,
      env: { MONGODB_URI: mongo.url, REDIS_URL: redis.url },
    });
    // Handlers that touch each dependency the way the resource routers will, behind the real error map.
    const { runtime } = service;
    const app = express();
    app.use(correlationId);
    app.get('/needs-mongo', async (_req, res) => {
      res.json(await runtime.mongo.db.collection('anything').findOne({}));
    });
    app.get('/needs-redis', async (_req, res) => {
      res.json({ value: await runtime.redis.get(`${runtime.config.redis.prefix}:anything`) });
    });
    app.use(errorResponder(runtime.logger));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => {
        resolve(s);
      });
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await service.stop();
    await Promise.all([mongo.destroy(), redis.destroy()]);
  });

  async function timed(url: string): Promise<{ res: Response; ms: number }> {
    const started = Date.now();
    const res = await fetch(url);
    return { res, ms: Date.now() - started };
  }

  it('answers 200 while both are up', async () => {
    expect((await fetch(`${base}/needs-mongo`)).status).toBe(200);
    expect((await fetch(`${base}/needs-redis`)).status).toBe(200);
  });

  it('answers 503 with Retry-After within two seconds when Redis is stopped; /metrics still answers', async () => {
    await redis.stop();
    const { res, ms } = await timed(`${base}/needs-redis`);
    expect(res.status).toBe(503);
    expect(ms).toBeLessThan(2000);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('x-correlation-id')).toBeTruthy();
    expect(await res.json()).toEqual({ error: 'ServiceUnavailable', message: 'redis is unavailable' });

    const metrics = await timed(`${service.baseUrl}/metrics`);
    expect(metrics.res.status).toBe(200);
    expect(metrics.ms).toBeLessThan(2000);
    expect(await metrics.res.text()).not.toMatch(/^ems_queue_jobs\{/m);

    const health = await timed(`${service.baseUrl}/health`);
    expect(health.res.status).toBe(503);
    expect(health.ms).toBeLessThan(2000);
    expect(health.res.headers.get('retry-after')).toBe('5');
    await redis.start();
  });

  it('answers 503 with Retry-After within two seconds when MongoDB is stopped', async () => {
    await mongo.stop();
    const { res, ms } = await timed(`${base}/needs-mongo`);
    expect(res.status).toBe(503);
    expect(ms).toBeLessThan(2000);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toEqual({ error: 'ServiceUnavailable', message: 'mongo is unavailable' });

    const metrics = await timed(`${service.baseUrl}/metrics`);
    expect(metrics.res.status).toBe(200);
    expect(metrics.ms).toBeLessThan(2000);
    await mongo.start();
  });
});
