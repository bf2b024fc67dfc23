import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis';
import { releaseHold, renewHold, takeHold } from '../redisHold';

/**
 * A projector's lease on its projection: at most one writer per projection at a time, across
 * processes (a Redis hold, see redisHold.ts). Each acquisition gets a fence token (a counter that
 * only grows), which the holder stores with its checkpoint so a holder that lost its lease without
 * noticing cannot move its successor's checkpoint.
 */
export interface ProjectorLease {
  fence: number;
  /** True once a renewal found the lease gone or taken. */
  readonly lost: boolean;
  /** Throws LeaseLostError when the lease was lost. */
  assertHeld(): void;
  /** Raises this holder's fence above `floor` (after Redis lost the counter). */
  raiseFence(floor: number): Promise<void>;
  release(): Promise<void>;
}

export class LeaseLostError extends Error {
  constructor(name: string) {
    super(`lease ${name} was lost`);
  }
}

const RAISE = `local v = tonumber(redis.call('get', KEYS[1]) or '0') if v < tonumber(ARGV[1]) then redis.call('set', KEYS[1], ARGV[1]) return tonumber(ARGV[1]) end return v`;

export async function tryAcquireLease(
  redis: RedisClient,
  prefix: string,
  name: string,
  ttlMs = 30_000,
): Promise<ProjectorLease | undefined> {
  const key = `${prefix}:lease:${name}`;
  const fenceKey = `${prefix}:fence:${name}`;
  const token = randomUUID();
  if (!(await takeHold(redis, key, token, ttlMs))) return undefined;
  let fence = await redis.incr(fenceKey);
  let lost = false;
  const renew = async (): Promise<void> => {
    if (!(await renewHold(redis, key, token, ttlMs))) lost = true;
  };
  const timer = setInterval(
    () => {
      renew().catch(() => {
        // Redis unreachable: after the TTL the lease may belong to someone else, so stop writing.
        lost = true;
      });
    },
    Math.floor(ttlMs / 3),
  );
  timer.unref();
  return {
    get fence() {
      return fence;
    },
    get lost() {
      return lost;
    },
    assertHeld() {
      if (lost) throw new LeaseLostError(name);
    },
    async raiseFence(floor: number) {
      fence = Math.max(fence, Number(await redis.eval(RAISE, 1, fenceKey, String(floor))));
    },
    async release() {
      clearInterval(timer);
      await releaseHold(redis, key, token).catch(() => undefined);
    },
  };
}
