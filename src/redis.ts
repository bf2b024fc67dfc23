import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis connections. Workers need `maxRetriesPerRequest: null` (BullMQ blocks on Redis);
 * everything on the request path fails fast instead, so a dead Redis is a quick 503, not a hang:
 * with no offline queue a command is refused at once while the connection is down. A Redis that is
 * up but slow (a loaded machine) gets 5 s per command before that counts as a failure.
 */
export function createRedis(url: string, role: 'worker' | 'request'): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: false }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000, commandTimeout: 5000 };
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

/**
 * Waits until the connection is ready, at most `ms`; never throws. The request connection refuses
 * commands until then (no offline queue), so start-up waits a moment instead of answering its first
 * requests with 503; a Redis that is down at start-up only delays start-up by `ms`.
 */
export function waitUntilReady(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = (): void => {
      done(true);
    };
    const timer = setTimeout(() => {
      done(false);
    }, ms);
    redis.once('ready', onReady);
  });
}
