import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../redis';
import { ServiceBusyError } from '../errors';

/**
 * One holder at a time per key, across API processes: a Redis key set with NX and a TTL, renewed
 * while the holder works, deleted only by the holder (compare-and-delete). A holder that dies frees
 * the key when its TTL runs out. Used where the answer must say what *this* call did, which
 * interleaved calls cannot tell apart (BullMQ answers the same for a new job and an existing one).
 */

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface LockTiming {
  ttlMs: number;
  /** How long a caller waits for the key before giving up with ServiceBusyError. */
  waitMs: number;
  pollMs: number;
}

const DEFAULT_TIMING: LockTiming = { ttlMs: 30_000, waitMs: 30_000, pollMs: 50 };

export async function withLock<T>(
  redis: RedisClient,
  key: string,
  run: () => Promise<T>,
  busyMessage: string,
  timing: LockTiming = DEFAULT_TIMING,
): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + timing.waitMs;
  while ((await redis.set(key, token, 'PX', timing.ttlMs, 'NX')) !== 'OK') {
    if (Date.now() > deadline) throw new ServiceBusyError(busyMessage, 5);
    await sleep(timing.pollMs);
  }
  // A failed renewal only shortens the hold to the TTL; the work itself goes on.
  const renew = setInterval(
    () => void redis.eval(RENEW, 1, key, token, String(timing.ttlMs)).catch(() => undefined),
    Math.floor(timing.ttlMs / 3),
  );
  renew.unref();
  try {
    return await run();
  } finally {
    clearInterval(renew);
    await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  }
}
