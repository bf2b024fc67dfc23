import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis';
import type { Config } from '../config';
import type { EventLog } from '../events/eventLog';
import type { Logger } from '../logging';
import type { CatchUp } from '../projections/projector';
import type { ChunkJobData } from './chunkJobs';
import { startChunkWorker } from './chunkWorker';
import type { ProcessChunk } from './processChunk';
import { startProjectionWorker } from './projectionWorker';

export interface RunningWorkers {
  /** Stops taking jobs, lets active ones finish (or be released for retry), then closes connections. */
  close(): Promise<void>;
}

export interface WorkerDeps {
  config: Config;
  logger: Logger;
  /** A connection for BullMQ workers (`maxRetriesPerRequest: null`); closed with the workers. */
  connection: RedisClient;
  eventLog: EventLog;
  processingQueue: Queue<ChunkJobData>;
  processChunk: ProcessChunk;
  requeueLostChunks: () => Promise<number>;
  catchUps: readonly CatchUp[];
}

/** Starts every background worker of the service: the chunk jobs and the projectors. */
export function startWorkers(deps: WorkerDeps): RunningWorkers {
  const { config, logger, connection } = deps;
  const chunks = startChunkWorker({
    connection,
    prefix: config.redis.queuePrefix,
    concurrency: config.processing.workerConcurrency,
    processChunk: deps.processChunk,
    eventLog: deps.eventLog,
    queue: deps.processingQueue,
    logger,
    requeueLostChunks: deps.requeueLostChunks,
    sweepIntervalMs: config.processing.sweepIntervalMs,
    outageWaitMs: config.processing.outageWaitMs,
    maxStalls: config.processing.maxStalls,
  });
  const projections = startProjectionWorker({
    connection,
    prefix: config.redis.queuePrefix,
    catchUps: deps.catchUps,
    pollMs: config.processing.projectionPollMs,
    logger,
  });
  logger.info('workers started', { concurrency: config.processing.workerConcurrency });
  return {
    async close() {
      await Promise.all([chunks.close(), projections.close()]);
      connection.disconnect();
    },
  };
}
