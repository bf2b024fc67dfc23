import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Config } from './config';
import { createUploadBatch } from './commands/uploadBatch/uploadBatch';
import { ensureUploadSessionIndexes, UploadSessions } from './commands/uploadBatch/uploadSessions';
import { createEventLog, ensureEventLogIndexes, type EventLog } from './events/eventLog';
import { ensureRawEventIndexes } from './events/rawEvents';
import { createApp } from './http/app';
import type { Logger } from './logging';
import { connectMongo, type Mongo } from './mongo';
import { createCheckHealth } from './queries/checkHealth';
import { createRedis } from './redis';
import { startWorkers, type RunningWorkers } from './workers/startWorkers';

/**
 * The composition root: the only place that opens connections and wires handlers to them.
 * Everything else receives what it needs as arguments.
 */
export interface Runtime {
  config: Config;
  logger: Logger;
  mongo: Mongo;
  /** Fail-fast connection for the request path (health checks, queue producers). */
  redis: Redis;
  eventLog: EventLog;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const mongo = await connectMongo(config.mongo.uri, config.mongo.dbName);
  await ensureEventLogIndexes(mongo.db);
  await ensureRawEventIndexes(mongo.db);
  await ensureUploadSessionIndexes(mongo.db);
  const redis = createRedis(config.redis.url, 'request');
  redis.on('error', (err: Error) => {
    logger.debug('redis connection error', { err: err.message });
  });
  // The request-path connection has no offline queue, so wait for it once; a Redis that is down at
  // start-up is not fatal: /health reports it and the connection keeps retrying.
  await waitUntilReady(redis, 2000).catch(() => {
    logger.warn('redis is not reachable yet; continuing', { url: config.redis.url });
  });
  return {
    config,
    logger,
    mongo,
    redis,
    eventLog: createEventLog(mongo.db),
    async close() {
      redis.disconnect();
      await mongo.client.close();
    },
  };
}

function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error('redis not ready'));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

export function buildApp(runtime: Runtime): Express {
  const { config, logger, mongo, redis, eventLog } = runtime;
  const sessions = new UploadSessions(mongo.db, eventLog, config.uploads.leaseMs);
  return createApp({
    config,
    logger,
    checkHealth: createCheckHealth({ db: mongo.db, redis, timeoutMs: config.healthTimeoutMs }),
    uploadBatch: createUploadBatch({ db: mongo.db, eventLog, sessions, logger }),
  });
}

export function runWorkers(runtime: Runtime): RunningWorkers {
  return startWorkers({ config: runtime.config, logger: runtime.logger, db: runtime.mongo.db });
}
