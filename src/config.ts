import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { queuePrefix, type RedisTarget } from './redis';

/** The only module that reads process.env: everything else receives a Config. */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: int(0, 65535).default(3000),
    MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://'),
    MONGODB_DB: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only')
      .default('event_metrics'),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
    REDIS_CLUSTER_NODES: z
      .string()
      .regex(
        /^\s*[A-Za-z0-9.:[\]-]+:\d{1,5}\s*(,\s*[A-Za-z0-9.:[\]-]+:\d{1,5}\s*)*$/,
        'host:port of one or more cluster nodes, separated by commas',
      )
      .optional(),
    REDIS_CLUSTER_PASSWORD: z.string().optional(),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_:-]{1,64}$/, 'letters, digits, _, : and - only')
      .default('ems'),
    ADMIN_API_KEY: z.string().optional(),
    USER_HASH_KEY: z.string().min(32, 'at least 32 characters').max(1024).optional(),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
    UPLOAD_RATE_LIMIT: int(1, 1_000_000).default(10),
    MAX_UPLOAD_BYTES: int(1, 64 * 1024 ** 3).default(10 * 1024 * 1024),
    UPLOAD_CLAIM_EXPIRY_MS: int(500, 3_600_000).default(30_000),
    UPLOAD_SETTLE_WAIT_MS: int(0, 3_600_000).default(120_000),
    MAX_CONCURRENT_UPLOADS: int(1, 1000).default(4),
    UPLOAD_SLOT_WAIT_MS: int(0, 3_600_000).default(60_000),
    UPLOAD_CLAIM_SWEEP_MS: int(100, 3_600_000).default(5000),
    UPLOAD_INSTANCE_NAME: z.string().min(1).max(200).optional(),
    EVENTS_PER_CHUNK: int(1, 100_000).optional(),
    /** Deprecated: the old name of EVENTS_PER_CHUNK, read when that is not set. */
    EVENTS_PER_JOB: int(1, 100_000).optional(),
    AUTO_PROCESS_UPLOADS: bool.default(false),
    EVENTS_RATE_LIMIT: int(1, 1_000_000_000).default(600_000),
    EVENTS_GROUP_WINDOW_MS: int(0, 1000).default(0),
    EVENTS_GROUP_MAX_EVENTS: int(1, 1_000_000).default(20_000),
    EVENTS_MAX_WAITING: int(1, 100_000_000).default(200_000),
    WORKER_CONCURRENCY: int(1, 1000).default(10),
    PROCESSING_SWEEP_MS: int(100, 3_600_000).default(15_000),
    METRICS_CACHE_BYTES: int(0, 16 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    SERIES_MAX_COLD: int(1, 64).default(2),
    SERIES_MAX_COLD_WAITING: int(0, 1000).default(8),
    CACHED_READ_FRONT: bool.default(true),
    PROCESSING_OUTAGE_WAIT_MS: int(0, 86_400_000).default(600_000),
    PROCESSING_MAX_STALLS: int(0, 1000).default(20),
    TRUST_PROXY: bool.default(false),
    CORS_ORIGINS: z.string().default(''),
    HEALTH_TIMEOUT_MS: int(50, 60_000).default(1000),
    JSON_BODY_LIMIT_BYTES: int(1024, 10 * 1024 * 1024).default(100 * 1024),
    MAX_HEADER_BYTES: int(1024, 256 * 1024).default(16 * 1024),
    HTTP_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(20_000),
    HTTP_REQUEST_TIMEOUT_MS: int(1000, 86_400_000).default(600_000),
    HTTP_IDLE_TIMEOUT_MS: int(1000, 3_600_000).default(30_000),
    HTTP_MAX_CONNECTIONS: int(1, 1_000_000).default(1000),
    HTTP_MIN_BODY_BYTES_PER_SECOND: int(0, 1024 * 1024 * 1024).default(1024),
    HTTP_BODY_RATE_WINDOW_MS: int(100, 3_600_000).default(10_000),
    PROJECTION_LAG_MAX_RECORDS: int(0, 1_000_000_000).default(1000),
    PROJECTION_LAG_MAX_SECONDS: int(0, 86_400).default(60),
    SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  })
  .refine((env) => env.HTTP_HEADERS_TIMEOUT_MS <= env.HTTP_REQUEST_TIMEOUT_MS, {
    path: ['HTTP_HEADERS_TIMEOUT_MS'],
    message: 'must not be longer than HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
  });

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  http: {
    host: string;
    port: number;
    trustProxy: boolean;
    corsOrigins: string[];
    jsonBodyLimitBytes: number;
    maxHeaderBytes: number;
    /** A request's headers must arrive within this. */
    headersTimeoutMs: number;
    /** The whole request, body included, must arrive within this. */
    requestTimeoutMs: number;
    /** A connection on which the client owes bytes (or does not read) for this long is closed. */
    idleTimeoutMs: number;
    maxConnections: number;
    /** 0: no minimum. */
    minBodyBytesPerSecond: number;
    bodyRateWindowMs: number;
  };
  mongo: { uri: string; dbName: string };
  redis: {
    target: RedisTarget;
    /** Prefix of every key the service writes outside BullMQ (leases, locks, the rate limit). */
    prefix: string;
    /** BullMQ's prefix: REDIS_PREFIX, hash-tagged on a cluster (see queuePrefix). */
    queuePrefix: string;
  };
  admin: { apiKey: string; generated: boolean };
  /** Key of user fingerprints (USER_HASH_KEY); unset: the one generated once into the database. */
  userHashKey: string | undefined;
  logLevel: Env['LOG_LEVEL'];
  uploads: {
    rateLimitPerMinute: number;
    maxBytes: number;
    /** A claim whose heartbeat is older is taken for dead by whoever finds it. */
    claimExpiryMs: number;
    /** How long an upload waits for the uploads that hold some of its events to settle before answering 503. */
    settleWaitMs: number;
    /** Upload bodies one API process receives at once (not those storing); more wait for a slot. */
    maxConcurrent: number;
    /** How long an upload waits for one of those slots before it gets 503 with Retry-After. */
    slotWaitMs: number;
    /** How often an API process resolves the claims of stopped uploads. */
    claimSweepMs: number;
    /** This API instance's name in its claims; a restart under the same name frees them at once. */
    instanceName: string;
    /** Whether an upload without a `process` option starts processing by itself (AUTO_PROCESS_UPLOADS). */
    autoProcess: boolean;
  };
  /** POST /api/events: the per-client budget and the group commit (http/postGroups). */
  posts: {
    eventsPerMinute: number;
    groupWindowMs: number;
    groupMaxEvents: number;
    /** Events accepted but not yet stored before posts get 503. */
    maxWaiting: number;
  };
  processing: {
    /** Events per chunk: one chunk document, one job, one EventsProcessed record. */
    eventsPerChunk: number;
    workerConcurrency: number;
    /** How often projectors look for log records on their own; every append also wakes them. */
    projectionPollMs: number;
    /** How often workers compare the queue with the log (lost jobs, unrecorded failures). */
    sweepIntervalMs: number;
    /** How long a chunk job waits for an unreachable database, without spending attempts, before it fails. */
    outageWaitMs: number;
    /** Times a chunk job may lose its worker (killed, stalled) before it fails for good. */
    maxStalls: number;
  };
  /** Bytes the metrics answer cache may hold, estimated (0 = no cache). */
  metricsCacheBytes: number;
  /** Uncached series computed at once per API process, and how many more may wait; further ones get 503. */
  seriesCold: { concurrent: number; waiting: number };
  /** Cached metric answers are written before Express (http/cachedReads.ts); off only to measure it. */
  cachedReadFront: boolean;
  healthTimeoutMs: number;
  /** How long /health reuses its last answer. */
  healthCacheMs: number;
  /** /health says `degraded` when a projection trails the log by more than `maxRecords` for `maxSeconds`. */
  projectionLag: { maxRecords: number; maxSeconds: number };
  shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly issues: { key: string; message: string }[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  ${i.key}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_EVENTS_PER_CHUNK = 5000;
// Not settings: only the tests shorten them (tests/support/testConfig.ts).
const PROJECTION_POLL_MS = 2000;
const HEALTH_CACHE_MS = 1000;

const MIN_ADMIN_KEY_LENGTH = 16;
/** Length alone lets `aaaaaaaaaaaaaaaa` through; a key typed or repeated by hand rarely has this many. */
const MIN_ADMIN_KEY_DISTINCT = 8;
const GENERATE_KEY_HINT = 'generate one with `openssl rand -base64 32`';

/** Why `key` is too weak to guard the admin endpoints, or undefined when it will do. */
function weakKeyReason(key: string): string | undefined {
  if (key.length < MIN_ADMIN_KEY_LENGTH) {
    return `at least ${MIN_ADMIN_KEY_LENGTH} characters (this one has ${key.length}); ${GENERATE_KEY_HINT}`;
  }
  const distinct = new Set(key).size;
  if (distinct < MIN_ADMIN_KEY_DISTINCT) {
    return (
      `too weak: it has ${distinct} distinct characters, at least ${MIN_ADMIN_KEY_DISTINCT} are needed; ` +
      GENERATE_KEY_HINT
    );
  }
  return undefined;
}

function resolveAdminKey(env: Env): Config['admin'] {
  const key = env.ADMIN_API_KEY;
  if (key === undefined) {
    if (env.NODE_ENV === 'production') {
      throw new ConfigError([
        { key: 'ADMIN_API_KEY', message: `required in production; ${GENERATE_KEY_HINT}` },
      ]);
    }
    return { apiKey: randomBytes(24).toString('base64url'), generated: true };
  }
  const reason = weakKeyReason(key);
  if (reason !== undefined) throw new ConfigError([{ key: 'ADMIN_API_KEY', message: reason }]);
  return { apiKey: key, generated: false };
}

const REDIS_CHOICE =
  'set REDIS_URL (one Redis server) or REDIS_CLUSTER_NODES (a Redis Cluster), exactly one of them';

function parseNodes(list: string): { host: string; port: number }[] {
  return list.split(',').map((entry) => {
    const at = entry.trim().lastIndexOf(':');
    const host = entry
      .trim()
      .slice(0, at)
      .replace(/^\[(.*)\]$/, '$1');
    return { host, port: Number(entry.trim().slice(at + 1)) };
  });
}

function redisSettings(env: Env): Config['redis'] {
  const target: RedisTarget =
    env.REDIS_CLUSTER_NODES === undefined
      ? { kind: 'single', url: env.REDIS_URL ?? '' }
      : {
          kind: 'cluster',
          nodes: parseNodes(env.REDIS_CLUSTER_NODES),
          ...(env.REDIS_CLUSTER_PASSWORD === undefined ? {} : { password: env.REDIS_CLUSTER_PASSWORD }),
        };
  return { target, prefix: env.REDIS_PREFIX, queuePrefix: queuePrefix(target, env.REDIS_PREFIX) };
}

/** Parses an environment (process.env by default) into a Config, or throws ConfigError naming each bad key. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most .env files.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  // Checked apart from the schema, so it is reported together with every other bad key.
  const redisIssues =
    (cleaned.REDIS_URL === undefined) === (cleaned.REDIS_CLUSTER_NODES === undefined)
      ? [{ key: 'REDIS_URL', message: REDIS_CHOICE }]
      : [];
  if (!parsed.success || redisIssues.length > 0) {
    throw new ConfigError([
      ...(parsed.error?.issues ?? []).map((issue) => ({
        key: issue.path.join('.') || '(root)',
        message: issue.message,
      })),
      ...redisIssues,
    ]);
  }
  const env = parsed.data;

  const admin = resolveAdminKey(env);

  return {
    env: env.NODE_ENV,
    http: {
      host: env.HOST,
      port: env.PORT,
      trustProxy: env.TRUST_PROXY,
      corsOrigins: env.CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
      jsonBodyLimitBytes: env.JSON_BODY_LIMIT_BYTES,
      maxHeaderBytes: env.MAX_HEADER_BYTES,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: env.HTTP_IDLE_TIMEOUT_MS,
      maxConnections: env.HTTP_MAX_CONNECTIONS,
      minBodyBytesPerSecond: env.HTTP_MIN_BODY_BYTES_PER_SECOND,
      bodyRateWindowMs: env.HTTP_BODY_RATE_WINDOW_MS,
    },
    mongo: { uri: env.MONGODB_URI, dbName: env.MONGODB_DB },
    redis: redisSettings(env),
    admin,
    userHashKey: env.USER_HASH_KEY,
    logLevel: env.LOG_LEVEL,
    uploads: {
      rateLimitPerMinute: env.UPLOAD_RATE_LIMIT,
      maxBytes: env.MAX_UPLOAD_BYTES,
      claimExpiryMs: env.UPLOAD_CLAIM_EXPIRY_MS,
      settleWaitMs: env.UPLOAD_SETTLE_WAIT_MS,
      maxConcurrent: env.MAX_CONCURRENT_UPLOADS,
      slotWaitMs: env.UPLOAD_SLOT_WAIT_MS,
      claimSweepMs: env.UPLOAD_CLAIM_SWEEP_MS,
      instanceName: env.UPLOAD_INSTANCE_NAME ?? `${hostname()}:${env.PORT}`,
      autoProcess: env.AUTO_PROCESS_UPLOADS,
    },
    posts: {
      eventsPerMinute: env.EVENTS_RATE_LIMIT,
      groupWindowMs: env.EVENTS_GROUP_WINDOW_MS,
      groupMaxEvents: env.EVENTS_GROUP_MAX_EVENTS,
      maxWaiting: env.EVENTS_MAX_WAITING,
    },
    processing: {
      eventsPerChunk: env.EVENTS_PER_CHUNK ?? env.EVENTS_PER_JOB ?? DEFAULT_EVENTS_PER_CHUNK,
      workerConcurrency: env.WORKER_CONCURRENCY,
      projectionPollMs: PROJECTION_POLL_MS,
      sweepIntervalMs: env.PROCESSING_SWEEP_MS,
      outageWaitMs: env.PROCESSING_OUTAGE_WAIT_MS,
      maxStalls: env.PROCESSING_MAX_STALLS,
    },
    metricsCacheBytes: env.METRICS_CACHE_BYTES,
    seriesCold: { concurrent: env.SERIES_MAX_COLD, waiting: env.SERIES_MAX_COLD_WAITING },
    cachedReadFront: env.CACHED_READ_FRONT,
    healthTimeoutMs: env.HEALTH_TIMEOUT_MS,
    healthCacheMs: HEALTH_CACHE_MS,
    projectionLag: { maxRecords: env.PROJECTION_LAG_MAX_RECORDS, maxSeconds: env.PROJECTION_LAG_MAX_SECONDS },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  };
}

/** Loads `.env` from the working directory into process.env (existing variables win), if the file exists. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
