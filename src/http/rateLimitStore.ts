import { MemoryStore, type ClientRateLimitInfo, type Options, type Store } from 'express-rate-limit';
import type { RedisClient } from '../redis';
import type { Logger } from '../logging';
import { withTimeout } from '../queries/withTimeout';

/**
 * A fixed-window hit counter in Redis, shared by every API process, so N processes still allow
 * UPLOAD_RATE_LIMIT per minute per client in total.
 *
 * When Redis does not answer (down, or slower than `timeoutMs`) the store fails open to a per-process
 * in-memory counter with the same window: uploads keep working (they need MongoDB, not Redis) and
 * each process still enforces the limit on its own, so the worst case is N times the limit rather
 * than no limit or a refused upload. The switch is logged once per outage, as is the recovery.
 */

// INCR and set the window's expiry on the first hit, atomically; returns [hits, ms until reset].
const INCREMENT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
`;

export interface RedisRateLimitStoreOptions {
  redis: RedisClient;
  /** Key prefix, e.g. `ems:ratelimit:uploads:`. */
  prefix: string;
  logger: Logger;
  timeoutMs?: number;
}

export class RedisRateLimitStore implements Store {
  readonly prefix: string;
  readonly localKeys = false;
  private windowMs = 60_000;
  private readonly fallback = new MemoryStore();
  private usingFallback = false;

  constructor(private readonly options: RedisRateLimitStoreOptions) {
    this.prefix = options.prefix;
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
    this.fallback.init(options);
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    try {
      const reply: unknown = await this.call((redis) =>
        redis.eval(INCREMENT_SCRIPT, 1, this.prefix + key, String(this.windowMs)),
      );
      const [hits, ttl]: unknown[] = Array.isArray(reply) ? (reply as unknown[]) : [];
      if (typeof hits !== 'number' || typeof ttl !== 'number') throw new Error('unexpected reply');
      return { totalHits: hits, resetTime: new Date(Date.now() + ttl) };
    } catch (error) {
      this.fellBack(error);
      return this.fallback.increment(key);
    }
  }

  async decrement(key: string): Promise<void> {
    try {
      await this.call((redis) => redis.decr(this.prefix + key));
    } catch (error) {
      this.fellBack(error);
      await this.fallback.decrement(key);
    }
  }

  async resetKey(key: string): Promise<void> {
    await this.fallback.resetKey(key);
    await this.call((redis) => redis.del(this.prefix + key)).catch((error: unknown) => {
      this.fellBack(error);
    });
  }

  private async call<T>(command: (redis: RedisClient) => Promise<T>): Promise<T> {
    const result = await withTimeout(this.options.timeoutMs ?? 500, () => command(this.options.redis));
    if (this.usingFallback) {
      this.usingFallback = false;
      this.options.logger.info('upload rate limit is shared through Redis again');
    }
    return result;
  }

  private fellBack(error: unknown): void {
    if (this.usingFallback) return;
    this.usingFallback = true;
    this.options.logger.warn(
      'Redis unavailable for the upload rate limit; limiting per process until it is back',
      { err: error },
    );
  }
}
