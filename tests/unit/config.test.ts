import { hostname } from 'node:os';
import { ConfigError, loadConfig } from '../../src/config';
import { TEST_ADMIN_KEY } from '../support/testConfig';

/** Settings a test environment has; nothing here is connected to. */
const testEnv = (): Record<string, string> => ({
  NODE_ENV: 'test',
  MONGODB_URI: 'mongodb://127.0.0.1:1/',
  REDIS_URL: 'redis://127.0.0.1:2',
  ADMIN_API_KEY: TEST_ADMIN_KEY,
});

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ MONGODB_URI: 'mongodb://127.0.0.1:1/', REDIS_URL: 'redis://127.0.0.1:2' });
    expect(config.http.port).toBe(3000);
    expect(config.uploads).toEqual({
      rateLimitPerMinute: 10,
      maxBytes: 10 * 1024 * 1024,
      claimExpiryMs: 30_000,
      settleWaitMs: 120_000,
      maxConcurrent: 4,
      slotWaitMs: 60_000,
      claimSweepMs: 5000,
      instanceName: `${hostname()}:3000`,
      autoProcess: false,
    });
    expect(config.posts).toEqual({
      eventsPerMinute: 600_000,
      groupWindowMs: 0,
      groupMaxEvents: 20_000,
      maxWaiting: 200_000,
    });
    expect(config.processing).toEqual({
      eventsPerChunk: 5000,
      workerConcurrency: 10,
      projectionPollMs: 2000,
      sweepIntervalMs: 15_000,
      outageWaitMs: 600_000,
      maxStalls: 20,
    });
    expect(config.http.trustProxy).toBe(false);
    expect(config.http.corsOrigins).toEqual([]);
    expect(config.http.jsonBodyLimitBytes).toBe(100 * 1024);
    expect(config.http.maxHeaderBytes).toBe(16 * 1024);
    expect(config.http).toMatchObject({
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 600_000,
      idleTimeoutMs: 30_000,
      maxConnections: 1000,
    });
    expect(config.projectionLag).toEqual({ maxRecords: 1000, maxSeconds: 60 });
    expect(config.metricsCacheBytes).toBe(64 * 1024 * 1024);
    expect(config.seriesCold).toEqual({ concurrent: 2, waiting: 8 });
    expect(config.cachedReadFront).toBe(true);
    expect(config.admin.generated).toBe(true);
    expect(config.admin.apiKey.length).toBeGreaterThanOrEqual(16);
  });

  it('names every bad key', () => {
    let caught: unknown;
    try {
      loadConfig({
        ...testEnv(),
        PORT: 'abc',
        UPLOAD_RATE_LIMIT: '-1',
        MONGODB_URI: 'http://x',
        TRUST_PROXY: 'maybe',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const keys = (caught as ConfigError).issues.map((i) => i.key).sort();
    expect(keys).toEqual(['MONGODB_URI', 'PORT', 'TRUST_PROXY', 'UPLOAD_RATE_LIMIT']);
  });

  it('refuses a header timeout longer than the request timeout', () => {
    expect(() =>
      loadConfig({ ...testEnv(), HTTP_HEADERS_TIMEOUT_MS: '60000', HTTP_REQUEST_TIMEOUT_MS: '30000' }),
    ).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not be longer than HTTP_REQUEST_TIMEOUT_MS/);
  });

  it('takes a Redis Cluster from REDIS_CLUSTER_NODES, with a hash-tagged BullMQ prefix', () => {
    const config = loadConfig({
      MONGODB_URI: 'mongodb://h/',
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002',
      REDIS_PREFIX: 'ems',
    });
    expect(config.redis.target).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(config.redis.queuePrefix).toBe('{ems}');
    expect(config.redis.prefix).toBe('ems');
    const single = loadConfig({ MONGODB_URI: 'mongodb://h/', REDIS_URL: 'redis://h', REDIS_PREFIX: 'ems' });
    expect(single.redis.target).toEqual({ kind: 'single', url: 'redis://h' });
    expect(single.redis.queuePrefix).toBe('ems');
  });

  it('wants exactly one of REDIS_URL and REDIS_CLUSTER_NODES, and host:port nodes', () => {
    const both = { MONGODB_URI: 'mongodb://h/', REDIS_URL: 'redis://h', REDIS_CLUSTER_NODES: 'h:7000' };
    expect(() => loadConfig(both)).toThrow(/REDIS_URL: set REDIS_URL .* or REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ MONGODB_URI: 'mongodb://h/' })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ MONGODB_URI: 'mongodb://h/', REDIS_CLUSTER_NODES: 'h' })).toThrow(
      /REDIS_CLUSTER_NODES: host:port/,
    );
  });

  it('requires MONGODB_URI and REDIS_URL', () => {
    expect(() => loadConfig({})).toThrow(/MONGODB_URI[\s\S]*REDIS_URL|REDIS_URL[\s\S]*MONGODB_URI/);
  });

  it('refuses a missing or short ADMIN_API_KEY in production', () => {
    const env = { MONGODB_URI: 'mongodb://h/', REDIS_URL: 'redis://h', NODE_ENV: 'production' };
    expect(() => loadConfig(env)).toThrow(/ADMIN_API_KEY/);
    expect(() => loadConfig({ ...env, ADMIN_API_KEY: 'short' })).toThrow(/ADMIN_API_KEY/);
    expect(loadConfig({ ...env, ADMIN_API_KEY: 'a-long-enough-admin-key' }).admin.generated).toBe(false);
  });

  it('refuses a long key with too few distinct characters, and says how to generate one', () => {
    const env = { MONGODB_URI: 'mongodb://h/', REDIS_URL: 'redis://h' };
    for (const [NODE_ENV, ADMIN_API_KEY] of [
      ['production', 'aaaaaaaaaaaaaaaa'],
      ['production', 'abababababababababababab'],
      ['development', '1234123412341234'],
    ] as const) {
      let caught: unknown;
      try {
        loadConfig({ ...env, NODE_ENV, ADMIN_API_KEY });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const [issue] = (caught as ConfigError).issues;
      expect(issue?.key).toBe('ADMIN_API_KEY');
      expect(issue?.message).toMatch(/distinct characters/);
      expect(issue?.message).toMatch(/openssl rand/);
    }
    let missing: unknown;
    try {
      loadConfig({ ...env, NODE_ENV: 'production' });
    } catch (error) {
      missing = error;
    }
    expect((missing as ConfigError).issues[0]?.message).toMatch(/openssl rand/);
    const generated = 'Jm3xQ9vT2LpW8sKd4HzR7bYc';
    expect(loadConfig({ ...env, NODE_ENV: 'production', ADMIN_API_KEY: generated }).admin.apiKey).toBe(
      generated,
    );
  });

  it('reads no test-only timings from the environment', () => {
    const config = loadConfig({ ...testEnv(), PROJECTION_POLL_MS: '100', HEALTH_CACHE_MS: '0' });
    expect(config.processing.projectionPollMs).toBe(2000);
    expect(config.healthCacheMs).toBe(1000);
  });

  it('takes the chunk size from EVENTS_PER_CHUNK, or from its old name EVENTS_PER_JOB', () => {
    const chunkSize = (env: Record<string, string>) =>
      loadConfig({ ...testEnv(), ...env }).processing.eventsPerChunk;
    expect(chunkSize({ EVENTS_PER_CHUNK: '300' })).toBe(300);
    expect(chunkSize({ EVENTS_PER_JOB: '400' })).toBe(400);
    expect(chunkSize({ EVENTS_PER_CHUNK: '300', EVENTS_PER_JOB: '400' })).toBe(300);
    expect(chunkSize({})).toBe(5000);
  });

  it('reads the tuning knobs', () => {
    const config = loadConfig({
      ...testEnv(),
      MAX_UPLOAD_BYTES: '2048',
      EVENTS_PER_CHUNK: '250',
      WORKER_CONCURRENCY: '3',
      TRUST_PROXY: 'true',
      CORS_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(config.uploads.maxBytes).toBe(2048);
    expect(config.processing).toEqual({
      eventsPerChunk: 250,
      workerConcurrency: 3,
      projectionPollMs: 2000,
      sweepIntervalMs: 15_000,
      outageWaitMs: 600_000,
      maxStalls: 20,
    });
    expect(config.http.trustProxy).toBe(true);
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });
});
