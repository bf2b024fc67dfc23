import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789';

/** A unique suffix so every test file gets its own database and Redis key prefix. */
export function uniqueName(label: string): string {
  return `${label}_${randomBytes(5).toString('hex')}`;
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const mongo = process.env.TEST_MONGODB_URI;
  const redis = process.env.TEST_REDIS_URL;
  if (mongo === undefined || redis === undefined) throw new Error('Run the tests with `npm test`.');
  // Under `npm run test:cluster` every test runs on the Redis Cluster, except one that brings a
  // Redis of its own (REDIS_URL in `overrides`: an outage test on a private server).
  const cluster = process.env.TEST_REDIS_CLUSTER_NODES;
  // A test with a cluster of its own (REDIS_CLUSTER_NODES in `overrides`) takes that instead.
  const redisTarget: Record<string, string> =
    overrides.REDIS_CLUSTER_NODES !== undefined
      ? {}
      : cluster !== undefined && overrides.REDIS_URL === undefined
        ? { REDIS_CLUSTER_NODES: cluster }
        : { REDIS_URL: redis };
  return {
    NODE_ENV: 'test',
    MONGODB_URI: mongo,
    MONGODB_DB: uniqueName('t'),
    ...redisTarget,
    REDIS_PREFIX: uniqueName('t'),
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    // Tests upload many files from one address; the rate-limit tests set their own limit.
    UPLOAD_RATE_LIMIT: '100000',
    // Tests read the metrics right after the projections catch up; the cache has its own test.
    METRICS_CACHE_BYTES: '0',
    PORT: '0',
    HOST: '127.0.0.1',
    ...overrides,
  };
}

/** Waits the service fixes for production (not settings), shortened for the tests. */
export interface TestTimings {
  /** Projectors are woken on every append; a short poll only speeds up a lost wake-up. */
  projectionPollMs: number;
  /** Tests read /health right after causing a fault; the reuse of an answer has its own test. */
  healthCacheMs: number;
}

const TEST_TIMINGS: TestTimings = { projectionPollMs: 300, healthCacheMs: 0 };

export function testConfig(
  overrides: Record<string, string> = {},
  timings: Partial<TestTimings> = {},
): Config {
  const config = loadConfig(testEnv(overrides));
  const { projectionPollMs, healthCacheMs } = { ...TEST_TIMINGS, ...timings };
  return { ...config, processing: { ...config.processing, projectionPollMs }, healthCacheMs };
}
