import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../redis';
import { ServiceBusyError } from '../errors';
import { releaseHold, renewHold, takeHold } from '../redisHold';

/**
 * One holder at a time per key, across API processes: a Redis hold (redisHold.ts) renewed while the
 * holder works. A holder that dies frees the key when its TTL runs out. Used where the answer must say what *this* call did, which
 * interleaved calls cannot tell apart (BullMQ answers the same for a new job and an existing one).
 */

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
  while (!(await takeHold(redis, key, token, timing.ttlMs))) {
    if (Date.now() > deadline) throw new ServiceBusyError(busyMessage, 5);
    await sleep(timing.pollMs);
  }
  // A failed renewal only shortens the hold to the TTL; the work itself goes on.
  const renew = setInterval(
    () => void renewHold(redis, key, token, timing.ttlMs).catch(() => undefined),
    Math.floor(timing.ttlMs / 3),
  );
  renew.unref();
  try {
    return await run();
  } finally {
    clearInterval(renew);
    await releaseHold(redis, key, token).catch(() => undefined);
  }
}
