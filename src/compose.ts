import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { createProcessBatch } from './commands/processBatch';
import { createRetryFailedJobs } from './commands/retryFailedJobs';
import { defaultSpoolDir, removeStaleSpools } from './commands/uploadBatch/spool';
import { createUploadBatch } from './commands/uploadBatch/uploadBatch';
import { ensureUploadSessionIndexes, UploadSessions } from './commands/uploadBatch/uploadSessions';
import type { Config } from './config';
import { createEventLog, ensureEventLogIndexes, type EventLog } from './events/eventLog';
import { ensureRawEventChunkIndexes, readChunk } from './events/rawEventChunks';
import { ensureRawEventIndexes } from './events/rawEvents';
import { createApp } from './http/app';
import { createBoundedServer } from './http/server';
import { buildOpenApiDocument, type OpenApiDocument } from './http/openapi/document';
import { createSchemaRegistry } from './http/openapi/registry';
import { registerServiceSchemas } from './http/openapi/schemas';
import { uploadRateLimiter } from './http/rateLimit';
import type { Logger } from './logging';
import { createServiceMetrics, type ServiceMetrics } from './metrics/serviceMetrics';
import { connectMongo, type Mongo } from './mongo';
import { batchStatusProjection } from './projections/batchStatus';
import { dailyMetricsProjection } from './projections/dailyMetrics';
import type { Projection } from './projections/projection';
import { createProjector, type CatchUp, type ProjectorDeps } from './projections/projector';
import { createCheckHealth } from './queries/checkHealth';
import { createGetBatch } from './queries/getBatch';
import { createGetDailyMetrics } from './queries/getDailyMetrics';
import { createListBatches } from './queries/listBatches';
import { createListFailedJobs } from './queries/listFailedJobs';
import { createLagWatch, readProjectionLags, type LagWatch } from './queries/projectionLag';
import { createReadQueueDepth } from './queries/queueDepth';
import { withTimeout } from './queries/withTimeout';
import { createRedis, waitUntilReady } from './redis';
import { createProcessingQueue, type ChunkJobData } from './workers/chunkJobs';
import { createProcessChunk } from './workers/processChunk';
import { createProjectionsQueue, wakeProjections } from './workers/projectionWorker';
import { startWorkers, type RunningWorkers } from './workers/startWorkers';

/**
 * The composition root: the only place that opens connections and wires handlers to them.
 * Everything else receives what it needs as arguments.
 */
export interface Runtime {
  config: Config;
  logger: Logger;
  mongo: Mongo;
  /** Fail-fast connection for the request path (health checks, queue producers, leases, rate limit). */
  redis: Redis;
  eventLog: EventLog;
  /** Producer side of `event-processing` (fail-fast connection). */
  processingQueue: Queue<ChunkJobData>;
  /** Producer side of `projections`: wake-ups after each append. */
  projectionsQueue: Queue;
  /** Prometheus series of this process; pass it to whatever records (e.g. the upload route). */
  metrics: ServiceMetrics;
  lagWatch: LagWatch;
  close(): Promise<void>;
}

/** Spool files untouched this long belong to no running upload. */
const STALE_SPOOL_MS = 24 * 60 * 60 * 1000;

/** How long a metrics scrape waits for Redis or MongoDB before leaving a series out. */
const SCRAPE_TIMEOUT_MS = 1000;
const REDIS_START_WAIT_MS = 3000;

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const mongo = await connectMongo(config.mongo.uri, config.mongo.dbName);
  await ensureEventLogIndexes(mongo.db);
  await ensureRawEventIndexes(mongo.db);
  await ensureRawEventChunkIndexes(mongo.db);
  await ensureUploadSessionIndexes(mongo.db);
  const redis = createRedis(config.redis.url, 'request');
  redis.on('error', (err: Error) => {
    logger.debug('redis connection error', { err: err.message });
  });
  if (!(await waitUntilReady(redis, REDIS_START_WAIT_MS))) {
    logger.warn('Redis is not reachable yet; requests that need it answer 503 until it is');
  }
  const processingQueue = createProcessingQueue(redis, config.redis.prefix);
  const projectionsQueue = createProjectionsQueue(redis, config.redis.prefix);
  for (const queue of [processingQueue, projectionsQueue] as Queue[]) {
    queue.on('error', (err: Error) => {
      logger.debug('queue producer error', { queue: queue.name, err: err.message });
    });
  }
  // A lost wake-up only delays the read models until the projectors' next poll.
  const eventLog = createEventLog(mongo.db, {
    onAppended: (record) => {
      wakeProjections(projectionsQueue, record.position).catch((err: unknown) => {
        logger.debug('could not wake the projectors', { err });
      });
    },
  });
  const lagWatch = createLagWatch({
    read: () => readProjectionLags(mongo.db, eventLog),
    maxRecords: config.projectionLag.maxRecords,
    maxSeconds: config.projectionLag.maxSeconds,
  });
  const readQueueDepth = createReadQueueDepth(processingQueue as Queue, SCRAPE_TIMEOUT_MS);
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
    processingQueue,
    projectionsQueue,
    metrics,
    lagWatch,
    async close() {
      await Promise.all([processingQueue.close(), projectionsQueue.close()]).catch(() => undefined);
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
  const { config, logger, mongo, redis, eventLog, processingQueue, metrics, lagWatch } = runtime;
  const processBatch = createProcessBatch({
    db: mongo.db,
    eventLog,
    queue: processingQueue,
    redis,
    redisPrefix: config.redis.prefix,
    eventsPerJob: config.processing.eventsPerJob,
    logger,
  });
  const sessions = new UploadSessions(mongo.db, eventLog, config.uploads.leaseMs);
  removeStaleSpools(defaultSpoolDir(), STALE_SPOOL_MS)
    .then((removed) => {
      if (removed > 0) logger.info('removed spool files left by stopped uploads', { removed });
    })
    .catch((error: unknown) => {
      logger.warn('could not look for old spool files', { err: String(error) });
    });
  return createApp({
    config,
    logger,
    metrics,
    openApiDocument: buildOpenApi(),
    checkHealth: createCheckHealth({ db: mongo.db, redis, lagWatch, timeoutMs: config.healthTimeoutMs }),
    uploadBatch: createUploadBatch({
      db: mongo.db,
      eventLog,
      sessions,
      eventsPerChunk: config.processing.eventsPerJob,
      logger,
    }),
    uploadRateLimiter: uploadRateLimiter({
      redis,
      redisPrefix: config.redis.prefix,
      logger,
      limitPerMinute: config.uploads.rateLimitPerMinute,
    }),
    batches: {
      processBatch,
      listBatches: createListBatches({ db: mongo.db }),
      getBatch: createGetBatch({ db: mongo.db, eventLog }),
    },
    getDailyMetrics: createGetDailyMetrics({ db: mongo.db, cacheMs: config.metricsCacheMs }),
    queues: {
      listFailedJobs: createListFailedJobs({ queue: processingQueue }),
      retryFailedJobs: createRetryFailedJobs({ queue: processingQueue, processBatch }),
    },
  });
}

/** The HTTP server for an app, with the configured limits (see http/server). */
export function createHttpServer(runtime: Runtime, app: Express = buildApp(runtime)): Server {
  return createBoundedServer(app, runtime.config.http, runtime.logger);
}

/** Every read model, in the order rebuilds and workers run them. */
export function projectionsOf(): Projection[] {
  return [dailyMetricsProjection, batchStatusProjection];
}

/** The projectors of every read model; leases on the fail-fast connection, so a dead Redis stops writes. */
export function buildProjectors(runtime: Runtime): CatchUp[] {
  const deps: ProjectorDeps = {
    db: runtime.mongo.db,
    eventLog: runtime.eventLog,
    redis: runtime.redis,
    prefix: runtime.config.redis.prefix,
    logger: runtime.logger,
  };
  return projectionsOf().map((projection) => createProjector(deps, projection));
}

export function runWorkers(runtime: Runtime): RunningWorkers {
  const { config, logger, eventLog, processingQueue, mongo } = runtime;
  return startWorkers({
    config,
    logger,
    connection: createRedis(config.redis.url, 'worker'),
    eventLog,
    processingQueue,
    processChunk: createProcessChunk({
      eventLog,
      readChunk: (batchId, chunk) => readChunk(mongo.db, batchId, chunk),
      logger,
    }),
    catchUps: buildProjectors(runtime),
  });
}
