import type { RedisClient } from './redis';

/**
 * A key held by one token at a time: set with NX and a TTL by its holder, renewed and deleted only by
 * that holder (compare-and-set in one script, so a holder whose TTL ran out cannot touch its
 * successor's hold). Shared by the projector leases and the per-batch process lock.
 */

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** Takes the key when free. */
export async function takeHold(
  redis: RedisClient,
  key: string,
  token: string,
  ttlMs: number,
): Promise<boolean> {
  return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
}

/** Extends the hold; false when the key expired or another token holds it. */
export async function renewHold(
  redis: RedisClient,
  key: string,
  token: string,
  ttlMs: number,
): Promise<boolean> {
  return (await redis.eval(RENEW, 1, key, token, String(ttlMs))) === 1;
}

/** Gives the key up if this token still holds it. */
export async function releaseHold(redis: RedisClient, key: string, token: string): Promise<void> {
  await redis.eval(RELEASE, 1, key, token);
}
