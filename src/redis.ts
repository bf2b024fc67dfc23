import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis connections. Workers need `maxRetriesPerRequest: null` (BullMQ blocks on Redis);
 * everything on the request path fails fast instead, so a dead Redis is a quick 503, not a hang.
 */
export function createRedis(url: string, role: 'worker' | 'request'): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: false }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 2000 };
  return new Redis(url, { lazyConnect: false, ...options });
}

export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const message = error.message;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    message.includes("Stream isn't writeable") ||
    message.includes('Connection is closed') ||
    message.includes('ECONNREFUSED') ||
    message.includes('Command timed out')
  );
}

/** Resolves once a fail-fast connection is ready (it rejects commands before that), or rejects after `ms`. */
export function redisReady(redis: Redis, ms = 5000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`redis was not ready within ${ms} ms`));
    }, ms);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
