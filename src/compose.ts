import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Config } from './config';
import { createUploadBatch } from './commands/uploadBatch/uploadBatch';
import { ensureUploadSessionIndexes, UploadSessions } from './commands/uploadBatch/uploadSessions';
import { createEventLog, ensureEventLogIndexes, type EventLog } from './events/eventLog';
import { ensureRawEventIndexes } from './events/rawEvents';
import { createApp } from './http/app';
import { buildOpenApiDocument, type OpenApiDocument } from './http/openapi/document';
import { createSchemaRegistry } from './http/openapi/registry';
import { registerServiceSchemas } from './http/openapi/schemas';
import { uploadRateLimiter } from './http/rateLimit';
import type { Logger } from './logging';
import { createServiceMetrics, type ServiceMetrics } from './metrics/serviceMetrics';
import { connectMongo, type Mongo } from './mongo';
import { createCheckHealth } from './queries/checkHealth';
import { createLagWatch, readProjectionLags, type LagWatch } from './queries/projectionLag';
import { createReadQueueDepth, EVENT_PROCESSING_QUEUE } from './queries/queueDepth';
import { withTimeout } from './queries/withTimeout';
import { createRedis, waitUntilReady } from './redis';
import { startWorkers, type RunningWorkers } from './workers/startWorkers';

/**
 * The composition root: the only place that opens connections and wires handlers to them.
 * Everything else receives what it needs as arguments.
 */
export interface Runtime {
  config: Config;
  logger: Logger;
  mongo: Mongo;
  /** Fail-fast connection for the request path (health checks, queue producers, rate limit). */
  redis: Redis;
  eventLog: EventLog;
  /** Prometheus series of this process; pass it to whatever records (e.g. the upload command). */
  metrics: ServiceMetrics;
  lagWatch: LagWatch;
  close(): Promise<void>;
}

/** How long a metrics scrape waits for Redis or MongoDB before leaving a series out. */
const SCRAPE_TIMEOUT_MS = 1000;
const REDIS_START_WAIT_MS = 3000;

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const mongo = await connectMongo(config.mongo.uri, config.mongo.dbName);
  await ensureEventLogIndexes(mongo.db);
  await ensureRawEventIndexes(mongo.db);
  await ensureUploadSessionIndexes(mongo.db);
  const redis = createRedis(config.redis.url, 'request');
  redis.on('error', (err: Error) => {
    logger.debug('redis connection error', { err: err.message });
  });
  if (!(await waitUntilReady(redis, REDIS_START_WAIT_MS))) {
    logger.warn('Redis is not reachable yet; requests that need it answer 503 until it is');
  }
  const eventLog = createEventLog(mongo.db);
  // Read-only use (job counts); shares the fail-fast connection, so a dead Redis cannot stall it.
  const queue = new Queue(EVENT_PROCESSING_QUEUE, { connection: redis, prefix: config.redis.prefix });
  queue.on('error', (err: Error) => {
    logger.debug('metrics queue connection error', { err: err.message });
  });
  const lagWatch = createLagWatch({
    read: () => readProjectionLags(mongo.db, eventLog),
    maxRecords: config.projectionLag.maxRecords,
    maxSeconds: config.projectionLag.maxSeconds,
  });
  const readQueueDepth = createReadQueueDepth(queue, SCRAPE_TIMEOUT_MS);
  const metrics = createServiceMetrics({
    queueDepth: () =>
      readQueueDepth().catch((err: unknown) => {
        logger.warn('queue depth unavailable for metrics', { err: String(err) });
        return undefined;
      }),
    projectionLag: () =>
      withTimeout(SCRAPE_TIMEOUT_MS, () => lagWatch.sample()).catch((err: unknown) => {
        logger.warn('projection lag unavailable for metrics', { err: String(err) });
        return undefined;
      }),
  });
  return {
    config,
    logger,
    mongo,
    redis,
    eventLog,
    metrics,
    lagWatch,
    async close() {
      await queue.close().catch(() => undefined);
      redis.disconnect();
      await mongo.client.close();
    },
  };
}

function packageVersion(): string {
  // src/compose.ts and dist/compose.js both sit one level below the package root.
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

export function buildOpenApi(): OpenApiDocument {
  const registry = createSchemaRegistry();
  registerServiceSchemas(registry);
  return buildOpenApiDocument(registry, { version: packageVersion() });
}

export function buildApp(runtime: Runtime): Express {
  const { config, logger, mongo, redis, eventLog, metrics, lagWatch } = runtime;
  const sessions = new UploadSessions(mongo.db, eventLog, config.uploads.leaseMs);
  return createApp({
    config,
    logger,
    metrics,
    openApiDocument: buildOpenApi(),
    checkHealth: createCheckHealth({ db: mongo.db, redis, lagWatch, timeoutMs: config.healthTimeoutMs }),
    uploadBatch: createUploadBatch({ db: mongo.db, eventLog, sessions, logger }),
    uploadRateLimiter: uploadRateLimiter({
      redis,
      redisPrefix: config.redis.prefix,
      logger,
      limitPerMinute: config.uploads.rateLimitPerMinute,
    }),
  });
}

/** The HTTP server for an app, with the configured header size limit (Node answers 431 beyond it). */
export function createHttpServer(runtime: Runtime, app: Express = buildApp(runtime)): Server {
  return createServer({ maxHeaderSize: runtime.config.http.maxHeaderBytes }, app);
}

export function runWorkers(runtime: Runtime): RunningWorkers {
  return startWorkers({ config: runtime.config, logger: runtime.logger, db: runtime.mongo.db });
}
