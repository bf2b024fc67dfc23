import type { Config } from './config';
import type { Logger } from './logging';
import { connectMongo, ensureCollections, type Mongo } from './mongo';
import { createRedis, type RedisClient } from './redis';

/** The connections a process opens first: MongoDB and the request path's Redis. */
export interface Stores {
  mongo: Mongo;
  /** Fail-fast (see createRedis): not yet known to be reachable when opened. */
  redis: RedisClient;
  close(): Promise<void>;
}

/**
 * Opens MongoDB, making `collections` first (FerretDB may fail two writers that create one
 * collection at once), and the request path's Redis. The composition root (compose.ts) wires the
 * service onto these; the admin command (rebuildProjections.ts) uses them alone, so it starts
 * without loading the HTTP and worker modules.
 */
export async function openStores(
  config: Config,
  logger: Logger,
  collections: readonly string[],
): Promise<Stores> {
  const mongo = await connectMongo(config.mongo.uri, config.mongo.dbName);
  try {
    await ensureCollections(mongo.db, collections);
  } catch (error) {
    await mongo.client.close().catch(() => undefined);
    throw error;
  }
  const redis = createRedis(config.redis.target, 'request');
  redis.on('error', (err: Error) => {
    logger.debug('redis connection error', { err });
  });
  return {
    mongo,
    redis,
    async close() {
      redis.disconnect();
      await mongo.client.close();
    },
  };
}
