import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { buildOpenApi } from '../../src/compose';
import { correlationId } from '../../src/http/correlationId';
import { errorResponder, notFoundResponder } from '../../src/http/errorMapping';
import { uploadRateLimiter } from '../../src/http/rateLimit';
import { createLogger } from '../../src/logging';
import { createRedis, waitUntilReady, type RedisClient } from '../../src/redis';
import { createResponseValidator } from '../support/openapi';
import { startPrivateRedis, type PrivateServer } from '../support/privateServers';
import { testConfig, uniqueName } from '../support/testConfig';

/**
 * The real limiter in front of a trivial handler, on the real Redis, for the cases that need several
 * apps or a private Redis. The limit on the real POST /api/uploads: tests/uploads/uploadRateLimit.test.ts.
 */

const logger = createLogger({ level: 'error', role: 'test', silent: true });
const LIMIT = 3;

interface Running {
  url: string;
  close(): Promise<void>;
}

async function startLimitedApp(redis: RedisClient, prefix: string, trustProxy = false): Promise<Running> {
  const app = express();
  app.set('trust proxy', trustProxy);
  app.use(correlationId);
  app.post(
    '/limited',
    uploadRateLimiter({ redis, redisPrefix: prefix, logger, limitPerMinute: LIMIT }),
    (_req, res) => {
      res.status(201).json({ ok: true });
    },
  );
  app.use(notFoundResponder);
  app.use(errorResponder(logger));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => {
      resolve(s);
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/limited`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** The request connection refuses commands until connected (no offline queue): wait for it. */
async function ready(redis: RedisClient): Promise<void> {
  if (!(await waitUntilReady(redis, 20_000))) throw new Error('Redis did not become ready');
}

const post = (url: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers });

describe('upload rate limiter', () => {
  let redis: RedisClient;
  const running: Running[] = [];

  beforeAll(async () => {
    // The test stack's Redis: one server, or the cluster under `npm run test:cluster`.
    redis = createRedis(testConfig().redis.target, 'request');
    await ready(redis);
  });

  afterAll(async () => {
    await Promise.all(running.map((r) => r.close()));
    redis.disconnect();
  });

  async function app(prefix = uniqueName('rl'), trustProxy = false): Promise<Running> {
    const started = await startLimitedApp(redis, prefix, trustProxy);
    running.push(started);
    return started;
  }

  it('allows the limit, then answers 429 with Retry-After, RateLimit headers and the documented body', async () => {
    const prefix = uniqueName('rl');
    const { url } = await app(prefix);
    for (let i = 0; i < LIMIT; i++) {
      const res = await post(url);
      expect(res.status).toBe(201);
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"uploads"; ?r=${LIMIT - 1 - i}; ?t=\\d+$`));
      expect(res.headers.get('ratelimit-policy')).toMatch(
        new RegExp(`^"uploads"; ?q=${LIMIT}; ?w=60(; ?pk=:[^:]+:)?$`),
      );
    }
    const refused = await post(url);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('x-correlation-id')).toBeTruthy();
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'TooManyRequests', retryAfter });
    expect(typeof body.message).toBe('string');
    const validator = createResponseValidator(buildOpenApi());
    expect(validator.componentProblems('RateLimitedResponse', body)).toEqual([]);

    // The window is a real Redis key that expires with the minute.
    const ttl = await redis.pttl(`${prefix}:ratelimit:uploads:127.0.0.1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('ignores a forged X-Forwarded-For when TRUST_PROXY is off', async () => {
    const { url } = await app();
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) {
      statuses.push((await post(url, { 'X-Forwarded-For': `203.0.113.${i + 1}` })).status);
    }
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(201), 429]);
  });

  it('limits each client behind a trusted proxy separately when TRUST_PROXY is on', async () => {
    const { url } = await app(uniqueName('rl'), true);
    for (let i = 0; i < LIMIT; i++) {
      expect((await post(url, { 'X-Forwarded-For': '198.51.100.7' })).status).toBe(201);
    }
    expect((await post(url, { 'X-Forwarded-For': '198.51.100.7' })).status).toBe(429);
    expect((await post(url, { 'X-Forwarded-For': '198.51.100.8' })).status).toBe(201);
  });

  it('holds the limit across API processes sharing Redis', async () => {
    const prefix = uniqueName('rl');
    const first = await app(prefix);
    const second = await app(prefix);
    expect((await post(first.url)).status).toBe(201);
    expect((await post(second.url)).status).toBe(201);
    expect((await post(first.url)).status).toBe(201);
    expect((await post(second.url)).status).toBe(429);
  });
});

describe('upload rate limiter with Redis down', () => {
  let privateRedis: PrivateServer;
  let redis: RedisClient;
  let running: Running;
  const prefix = uniqueName('rl');

  beforeAll(async () => {
    privateRedis = await startPrivateRedis();
    redis = createRedis({ kind: 'single', url: privateRedis.url }, 'request');
    redis.on('error', () => undefined);
    await ready(redis);
    running = await startLimitedApp(redis, prefix);
  });

  afterAll(async () => {
    await running.close();
    redis.disconnect();
    await privateRedis.destroy();
  });

  it('fails open to a per-process limit: no hang, no 500, still 429 past the limit', async () => {
    expect((await post(running.url)).status).toBe(201);
    await privateRedis.stop();
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) {
      const started = Date.now();
      statuses.push((await post(running.url)).status);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    // The in-process fallback counts from zero: LIMIT more allowed, then refused.
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(201), 429]);
  });

  it('counts in Redis again once it is back', async () => {
    await privateRedis.start();
    await ready(redis);
    // The restarted Redis kept nothing (no persistence), so the shared window starts afresh.
    expect((await post(running.url)).status).toBe(201);
    expect(await redis.get(`${prefix}:ratelimit:uploads:127.0.0.1`)).toBe('1');
  });
});
