import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { addChunkJobs, createProcessBatch } from './commands/processBatch';
import { createRequeueLostChunks } from './workers/requeueLostChunks';
import { createRetryFailedJobs } from './commands/retryFailedJobs';
import { createRetractBatch } from './commands/retractBatch';
import { BATCH_RETRACTIONS_COLLECTION } from './commands/batchRetractions';
import { startRetractionSweep } from './commands/retractionSweep';
import { defaultSpoolDir, removeStaleSpools } from './commands/uploadBatch/spool';
import { createUploadBatch, type UploadBatch } from './commands/uploadBatch/uploadBatch';
import {
  BATCH_CLAIMS_COLLECTION,
  BatchClaims,
  CLAIM_SETTLEMENTS_COLLECTION,
  ensureBatchClaimIndexes,
} from './commands/uploadBatch/batchClaims';
import { startClaimSweep } from './commands/uploadBatch/claimSweep';
import { InFlightKeys } from './commands/uploadBatch/inFlightKeys';
import type { Config } from './config';
import {
  createEventLog,
  ensureEventLogIndexes,
  EVENT_LOG_COLLECTION,
  type EventLog,
} from './events/eventLog';
import { ensureRawEventChunkIndexes, RAW_EVENT_CHUNKS_COLLECTION } from './events/rawEventChunks';
import { readChunk } from './events/readChunks';
import { ensureRawEventIndexes, RAW_EVENTS_COLLECTION } from './events/rawEvents';
import { createUserFingerprint, type FingerprintOf } from './events/userFingerprint';
import { resolveUserHashKey, SERVICE_KEYS_COLLECTION } from './events/userHashKey';
import { USER_SUPPRESSIONS_COLLECTION } from './events/userSuppressions';
import {
  ensureUserErasureIndexes,
  readErasure,
  USER_ERASURES_COLLECTION,
} from './commands/eraseUser/erasures';
import { createEraseUser, type EraseUser } from './commands/eraseUser/eraseUser';
import { startErasureSweep } from './commands/eraseUser/erasureSweep';
import { createHttpHandlers, requestListenerOf, type AppDeps, type HttpHandlers } from './http/app';
import { createBoundedServer } from './http/server';
import { buildOpenApiDocument, type OpenApiDocument } from './http/openapi/document';
import { uploadRateLimiter } from './http/rateLimit';
import { createEventBudget } from './http/eventBudget';
import type { Logger } from './logging';
import { createServiceMetrics, type ServiceMetrics } from './metrics/serviceMetrics';
import type { Mongo } from './mongo';
import { openStores } from './openStores';
import { allProjections } from './projections/allProjections';
import { PROJECTION_STATUS_COLLECTION } from './projections/projectionStatus';
import { CHECKPOINTS_COLLECTION, POINTERS_COLLECTION } from './projections/readModels';
import { rebuildProjections } from './projections/rebuild';
import { createProjector, type CatchUp, type ProjectorDeps } from './projections/projector';
import { createAnswerCache, createReadModelStamps } from './queries/answerCache';
import { createCheckHealth } from './queries/checkHealth';
import { createComputeSlots } from './queries/computeSlots';
import { createGetBatch } from './queries/getBatch';
import { createGetDailyMetrics } from './queries/getDailyMetrics';
import { createGetDailyMetricsInZone } from './queries/getDailyMetricsInZone';
import { createGetMetricSeries } from './queries/getMetricSeries';
import { createListBatches } from './queries/listBatches';
import { createListFailedJobs } from './queries/listFailedJobs';
import { createLagWatch, readProjectionLags, type LagWatch } from './queries/projectionLag';
import { createReadQueueDepth } from './queries/queueDepth';
import { withTimeout } from './queries/withTimeout';
import { createRedis, waitUntilReady, type RedisClient } from './redis';
import { createProcessingQueue, type ChunkJobData } from './chunkJobs';
import { createProcessChunk } from './workers/processChunk';
import { createProjectionsQueue, wakeProjections } from './workers/projectionWorker';
import { startWorkers, type RunningWorkers } from './workers/startWorkers';

/**
 * The composition root: the only place that opens connections (the first ones through openStores,
 * which the admin command also uses) and wires handlers to them. Everything else receives what it
 * needs as arguments.
 */
export interface Runtime {
  config: Config;
  logger: Logger;
  mongo: Mongo;
  /** Fail-fast connection for the request path (health checks, queue producers, leases, rate limit). */
  redis: RedisClient;
  eventLog: EventLog;
  /** Users' keyed fingerprints (USER_HASH_KEY or the key kept in service_keys). */
  userFingerprint: FingerprintOf;
  /** Producer side of `event-processing` (fail-fast connection). */
  processingQueue: Queue<ChunkJobData>;
  /** Producer side of `projections`: wake-ups after each append. */
  projectionsQueue: Queue;
  /** Prometheus series of this process; pass it to whatever records (e.g. the upload route). */
  metrics: ServiceMetrics;
  lagWatch: LagWatch;
  close(): Promise<void>;
}

/** Every collection but the versioned read models (their projector creates those), made at start-up. */
const CORE_COLLECTIONS = [
  EVENT_LOG_COLLECTION,
  RAW_EVENTS_COLLECTION,
  RAW_EVENT_CHUNKS_COLLECTION,
  BATCH_CLAIMS_COLLECTION,
  CLAIM_SETTLEMENTS_COLLECTION,
  BATCH_RETRACTIONS_COLLECTION,
  POINTERS_COLLECTION,
  CHECKPOINTS_COLLECTION,
  PROJECTION_STATUS_COLLECTION,
  SERVICE_KEYS_COLLECTION,
  USER_SUPPRESSIONS_COLLECTION,
  USER_ERASURES_COLLECTION,
];

/** Spool files untouched this long belong to no running upload. */
const STALE_SPOOL_MS = 24 * 60 * 60 * 1000;

/** How long a metrics scrape waits for Redis or MongoDB before leaving a series out. */
const SCRAPE_TIMEOUT_MS = 1000;
const REDIS_START_WAIT_MS = 3000;
/** A refused cold series: about the time one takes, so a retry finds a free turn. */
const SERIES_RETRY_AFTER_SECONDS = 5;

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const stores = await openStores(config, logger, CORE_COLLECTIONS);
  const { mongo, redis } = stores;
  let userFingerprint: FingerprintOf;
  try {
    await ensureEventLogIndexes(mongo.db);
    await ensureRawEventIndexes(mongo.db);
    await ensureRawEventChunkIndexes(mongo.db);
    await ensureBatchClaimIndexes(mongo.db);
    await ensureUserErasureIndexes(mongo.db);
    userFingerprint = createUserFingerprint(await resolveUserHashKey(mongo.db, config.userHashKey));
  } catch (error) {
    await stores.close().catch(() => undefined);
    throw error;
  }
  if (!(await waitUntilReady(redis, REDIS_START_WAIT_MS))) {
    logger.warn('Redis is not reachable yet; requests that need it answer 503 until it is');
  }
  const processingQueue = createProcessingQueue(redis, config.redis.queuePrefix);
  const projectionsQueue = createProjectionsQueue(redis, config.redis.queuePrefix);
  for (const queue of [processingQueue, projectionsQueue] as Queue[]) {
    queue.on('error', (err: Error) => {
      logger.debug('queue producer error', { queue: queue.name, err });
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
        logger.warn('queue depth unavailable for metrics', { err });
        return undefined;
      }),
    projectionLag: () =>
      withTimeout(SCRAPE_TIMEOUT_MS, () => lagWatch.sample()).catch((err: unknown) => {
        logger.warn('projection lag unavailable for metrics', { err });
        return undefined;
      }),
  });
  return {
    config,
    logger,
    mongo,
    redis,
    eventLog,
    userFingerprint,
    processingQueue,
    projectionsQueue,
    metrics,
    lagWatch,
    async close() {
      await Promise.all([processingQueue.close(), projectionsQueue.close()]).catch(() => undefined);
      await stores.close();
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
  return buildOpenApiDocument({ version: packageVersion() });
}

/** The Express app and the cached-read front before it, sharing one set of queries and caches. */
export function buildHttpHandlers(runtime: Runtime): HttpHandlers {
  return createHttpHandlers(appDeps(runtime));
}

function appDeps(runtime: Runtime): AppDeps {
  const { config, logger, mongo, redis, eventLog, processingQueue, metrics, lagWatch } = runtime;
  const processBatch = createProcessBatchFor(runtime);
  removeStaleSpools(defaultSpoolDir(), STALE_SPOOL_MS)
    .then((removed) => {
      if (removed > 0) logger.info('removed spool files left by stopped uploads', { removed });
    })
    .catch((error: unknown) => {
      logger.warn('could not look for old spool files', { err: error });
    });
  // One cache for every metrics answer, so its bound in bytes holds for all of them.
  const cache = createAnswerCache({
    maxBytes: config.metricsCacheBytes,
    stamps: createReadModelStamps(redis, config.redis.prefix),
  });
  const getMetricSeries = createGetMetricSeries({
    db: mongo.db,
    cache,
    slots: createComputeSlots({ ...config.seriesCold, retryAfterSeconds: SERIES_RETRY_AFTER_SECONDS }),
  });
  return {
    config,
    logger,
    metrics,
    openApiDocument: buildOpenApi(),
    checkHealth: createCheckHealth({
      mongo,
      redis,
      lagWatch,
      claims: new BatchClaims(mongo.db),
      timeoutMs: config.healthTimeoutMs,
      // A stopped upload's claim is resolved by the sweep once expired; well past that, it is stuck.
      stuckAfterMs: config.uploads.claimExpiryMs + 3 * config.uploads.claimSweepMs,
      cacheMs: config.healthCacheMs,
      onEvaluation: () => {
        metrics.healthEvaluated();
      },
    }),
    uploadBatch: createUploadBatchFor(runtime),
    retractBatch: createRetractBatch({ ...retractionDeps(runtime), logger }),
    uploadRateLimiter: uploadRateLimiter({
      redis,
      redisPrefix: config.redis.prefix,
      logger,
      limitPerMinute: config.uploads.rateLimitPerMinute,
    }),
    eventBudget: createEventBudget({
      redis,
      redisPrefix: config.redis.prefix,
      logger,
      limitPerMinute: config.posts.eventsPerMinute,
    }),
    batches: {
      processBatch,
      listBatches: createListBatches({ db: mongo.db }),
      getBatch: createGetBatch({ db: mongo.db, eventLog }),
    },
    getDailyMetrics: createGetDailyMetrics({ db: mongo.db, cache }),
    getMetricSeries,
    getDailyMetricsInZone: createGetDailyMetricsInZone({ getMetricSeries }),
    queues: {
      listFailedJobs: createListFailedJobs({ queue: processingQueue }),
      retryFailedJobs: createRetryFailedJobs({ queue: processingQueue, processBatch }),
    },
    users: {
      eraseUser: eraseUserOf(runtime),
      readErasure: (erasureId) => readErasure(mongo.db, erasureId),
    },
  };
}

const eraseUsers = new WeakMap<Runtime, EraseUser>();

/** The EraseUser command of this runtime: one per process, so the routes and the sweep share its runs. */
export function eraseUserOf(runtime: Runtime): EraseUser {
  let eraseUser = eraseUsers.get(runtime);
  if (eraseUser === undefined) {
    eraseUser = createEraseUser({
      db: runtime.mongo.db,
      eventLog: runtime.eventLog,
      claims: new BatchClaims(runtime.mongo.db),
      fingerprintOf: runtime.userFingerprint,
      settleWaitMs: runtime.config.uploads.settleWaitMs,
      logger: runtime.logger,
    });
    eraseUsers.set(runtime, eraseUser);
  }
  return eraseUser;
}

/** The UploadBatch command of this instance (or, in tests, of another instance name). */
export function createUploadBatchFor(runtime: Runtime, instanceName?: string): UploadBatch {
  const { config, mongo, eventLog, logger } = runtime;
  return createUploadBatch({
    db: mongo.db,
    eventLog,
    claims: new BatchClaims(mongo.db),
    instanceName: instanceName ?? config.uploads.instanceName,
    claimExpiryMs: config.uploads.claimExpiryMs,
    settleWaitMs: config.uploads.settleWaitMs,
    eventsPerChunk: config.processing.eventsPerChunk,
    fingerprintOf: runtime.userFingerprint,
    addChunkJobs: (jobs) => addChunkJobs(runtime.processingQueue, jobs),
    inFlightKeys: new InFlightKeys(),
    logger,
  });
}

/** What a retraction's cleanup needs; its heartbeat is renewed well within the claim expiry. */
function retractionDeps(runtime: Runtime) {
  return {
    db: runtime.mongo.db,
    eventLog: runtime.eventLog,
    queue: runtime.processingQueue,
    heartbeatMs: Math.max(100, Math.floor(runtime.config.uploads.claimExpiryMs / 4)),
  };
}

/**
 * The API's background duties (each run once at start too): resolving the claims of uploads that
 * stopped, and finishing retractions and erasures whose process stopped (same period and expiry).
 */
export function runClaimSweep(runtime: Runtime): { stop(): void } {
  const processBatch = createProcessBatchFor(runtime);
  const retractions = startRetractionSweep({
    ...retractionDeps(runtime),
    logger: runtime.logger,
    expiryMs: runtime.config.uploads.claimExpiryMs,
    intervalMs: runtime.config.uploads.claimSweepMs,
  });
  const erasures = startErasureSweep({
    db: runtime.mongo.db,
    eraseUser: eraseUserOf(runtime),
    logger: runtime.logger,
    staleMs: runtime.config.uploads.claimExpiryMs,
    intervalMs: runtime.config.uploads.claimSweepMs,
  });
  const claims = startClaimSweep({
    db: runtime.mongo.db,
    claims: new BatchClaims(runtime.mongo.db),
    eventLog: runtime.eventLog,
    logger: runtime.logger,
    instanceName: runtime.config.uploads.instanceName,
    startedAt: Date.now(),
    expiryMs: runtime.config.uploads.claimExpiryMs,
    fingerprintOf: runtime.userFingerprint,
    intervalMs: runtime.config.uploads.claimSweepMs,
    processRecovered: (batchId) => processBatch(batchId, `recovered-${batchId}`),
  });
  return {
    stop() {
      claims.stop();
      retractions.stop();
      erasures.stop();
    },
  };
}

function createProcessBatchFor(runtime: Runtime) {
  return createProcessBatch({
    db: runtime.mongo.db,
    eventLog: runtime.eventLog,
    queue: runtime.processingQueue,
    redis: runtime.redis,
    redisPrefix: runtime.config.redis.prefix,
    eventsPerChunk: runtime.config.processing.eventsPerChunk,
    fingerprintOf: runtime.userFingerprint,
    logger: runtime.logger,
  });
}

/** The HTTP server: the cached-read front and the app, with the configured limits (see http/server). */
export function createHttpServer(runtime: Runtime): Server {
  return createBoundedServer(
    requestListenerOf(buildHttpHandlers(runtime)),
    runtime.config.http,
    runtime.logger,
  );
}

/** The projectors of every read model; leases on the fail-fast connection, so a dead Redis stops writes. */
export function buildProjectors(runtime: Runtime): CatchUp[] {
  const deps: ProjectorDeps = {
    db: runtime.mongo.db,
    eventLog: runtime.eventLog,
    redis: runtime.redis,
    prefix: runtime.config.redis.prefix,
    logger: runtime.logger,
    recover: async (projection) => {
      await rebuildProjections(deps, [projection]);
    },
  };
  return allProjections().map((projection) => createProjector(deps, projection));
}

export function runWorkers(runtime: Runtime): RunningWorkers {
  const { config, logger, eventLog, processingQueue, mongo } = runtime;
  return startWorkers({
    config,
    logger,
    connection: createRedis(config.redis.target, 'worker'),
    eventLog,
    processingQueue,
    processChunk: createProcessChunk({
      eventLog,
      readChunk: (batchId, chunk) => readChunk(mongo.db, batchId, chunk),
      logger,
    }),
    requeueLostChunks: createRequeueLostChunks({ db: mongo.db, eventLog, queue: processingQueue, logger }),
    catchUps: buildProjectors(runtime),
  });
}
