import type { Queue } from 'bullmq';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { createProcessBatch } from './commands/processBatch';
import { createRetryFailedJobs } from './commands/retryFailedJobs';
import type { Config } from './config';
import { createEventLog, ensureEventLogIndexes, type EventLog } from './events/eventLog';
import { createApp } from './http/app';
import type { Logger } from './logging';
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
import { createRedis } from './redis';
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
  /** Fail-fast connection for the request path (health checks, queue producers, leases). */
  redis: Redis;
  eventLog: EventLog;
  /** Producer side of `event-processing` (fail-fast connection). */
  processingQueue: Queue<ChunkJobData>;
  /** Producer side of `projections`: wake-ups after each append. */
  projectionsQueue: Queue;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const mongo = await connectMongo(config.mongo.uri, config.mongo.dbName);
  await ensureEventLogIndexes(mongo.db);
  const redis = createRedis(config.redis.url, 'request');
  redis.on('error', (err: Error) => {
    logger.debug('redis connection error', { err: err.message });
  });
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
  return {
    config,
    logger,
    mongo,
    redis,
    eventLog,
    processingQueue,
    projectionsQueue,
    async close() {
      await Promise.all([processingQueue.close(), projectionsQueue.close()]).catch(() => undefined);
      redis.disconnect();
      await mongo.client.close();
    },
  };
}

function processBatchFor(runtime: Runtime) {
  const { config, logger, mongo, eventLog, processingQueue } = runtime;
  return createProcessBatch({
    db: mongo.db,
    eventLog,
    queue: processingQueue,
    eventsPerJob: config.processing.eventsPerJob,
    logger,
  });
}

export function buildApp(runtime: Runtime): Express {
  const { config, logger, mongo, redis, eventLog, processingQueue } = runtime;
  const processBatch = processBatchFor(runtime);
  return createApp({
    config,
    logger,
    checkHealth: createCheckHealth({ db: mongo.db, redis, timeoutMs: config.healthTimeoutMs }),
    batches: {
      processBatch,
      listBatches: createListBatches({ db: mongo.db }),
      getBatch: createGetBatch({ db: mongo.db, eventLog }),
    },
    getDailyMetrics: createGetDailyMetrics({ db: mongo.db }),
    queues: {
      listFailedJobs: createListFailedJobs({ queue: processingQueue }),
      retryFailedJobs: createRetryFailedJobs({ queue: processingQueue, processBatch }),
    },
  });
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
  const { config, logger, eventLog, processingQueue } = runtime;
  return startWorkers({
    config,
    logger,
    connection: createRedis(config.redis.url, 'worker'),
    eventLog,
    processingQueue,
    processChunk: createProcessChunk({ eventLog, logger }),
    catchUps: buildProjectors(runtime),
  });
}
