import type { Request, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { RateLimitedError } from '../errors';
import type { Logger } from '../logging';
import { withTimeout } from '../queries/withTimeout';
import type { RedisClient } from '../redis';

/**
 * The per-client budget of POST /api/events, in events per minute (EVENTS_RATE_LIMIT), counted in
 * Redis across API processes in fixed one-minute windows. A producer is limited by what it sends,
 * not by how it cuts it into posts. A post is charged once its events are validated; one that would
 * overdraw the budget is refused whole with 429 and Retry-After, and charges nothing. When Redis
 * does not answer, each process counts on its own (as the upload rate limit does).
 */

const WINDOW_MS = 60_000;
const REDIS_TIMEOUT_MS = 500;

// Adds the post's events unless that overdraws the budget; returns [spent, ms until the window resets].
const SPEND_SCRIPT = `
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[3]) end
local after = spent + tonumber(ARGV[1])
if after > tonumber(ARGV[2]) then return {spent, ttl, 0} end
redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {after, ttl, 1}
`;

export interface EventBudgetDeps {
  redis: RedisClient;
  redisPrefix: string;
  logger: Logger;
  /** Events per minute per client (EVENTS_RATE_LIMIT). */
  limitPerMinute: number;
}

interface Window {
  spent: number;
  resetAt: number;
}

export function createEventBudget(deps: EventBudgetDeps) {
  const local = new Map<string, Window>();
  let usingLocal = false;

  function spendLocally(client: string, events: number): { spent: number; resetMs: number; ok: boolean } {
    const now = Date.now();
    let window = local.get(client);
    if (window === undefined || window.resetAt <= now) {
      // Forgotten windows would pile up: drop the ended ones while starting a new one.
      for (const [key, w] of local) if (w.resetAt <= now) local.delete(key);
      window = { spent: 0, resetAt: now + WINDOW_MS };
      local.set(client, window);
    }
    const ok = window.spent + events <= deps.limitPerMinute;
    if (ok) window.spent += events;
    return { spent: window.spent, resetMs: window.resetAt - now, ok };
  }

  async function spendShared(client: string, events: number) {
    const reply: unknown = await withTimeout(REDIS_TIMEOUT_MS, () =>
      deps.redis.eval(
        SPEND_SCRIPT,
        1,
        `${deps.redisPrefix}:ratelimit:events:${client}`,
        String(events),
        String(deps.limitPerMinute),
        String(WINDOW_MS),
      ),
    );
    const [spent, resetMs, ok] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (typeof spent !== 'number' || typeof resetMs !== 'number') throw new Error('unexpected reply');
    if (usingLocal) deps.logger.info('the events budget is shared through Redis again');
    usingLocal = false;
    return { spent, resetMs, ok: ok === 1 };
  }

  /**
   * Charges `events` to the client of `req`, or throws RateLimitedError (429) and charges nothing;
   * either way the answer carries RateLimit / RateLimit-Policy (IETF draft 8) for this budget.
   */
  async function spend(req: Request, res: Response, events: number): Promise<void> {
    const client = ipKeyGenerator(req.ip ?? 'unknown', 56);
    const outcome = await spendShared(client, events).catch((error: unknown) => {
      if (!usingLocal) {
        deps.logger.warn('Redis unavailable for the events budget; counting per process until it is back', {
          err: error,
        });
      }
      usingLocal = true;
      return spendLocally(client, events);
    });
    const retryAfter = Math.max(1, Math.ceil(outcome.resetMs / 1000));
    const left = Math.max(0, deps.limitPerMinute - outcome.spent);
    res.setHeader('RateLimit-Policy', `"events"; q=${deps.limitPerMinute}; w=${WINDOW_MS / 1000}`);
    res.setHeader('RateLimit', `"events"; r=${left}; t=${retryAfter}`);
    if (outcome.ok) return;
    throw new RateLimitedError(
      `Too many events: at most ${deps.limitPerMinute} per minute per client (EVENTS_RATE_LIMIT); ` +
        `${left} left in this minute, this post has ${events}. Retry in ${retryAfter} s.`,
      retryAfter,
    );
  }

  return { spend };
}

export type EventBudget = ReturnType<typeof createEventBudget>;
