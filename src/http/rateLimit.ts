import type { Request, RequestHandler } from 'express';
import { rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { RedisClient } from '../redis';
import { RateLimitedError } from '../errors';
import type { Logger } from '../logging';
import { RedisRateLimitStore } from './rateLimitStore';

export interface UploadRateLimiterDeps {
  redis: RedisClient;
  /** The service's Redis key prefix (REDIS_PREFIX). */
  redisPrefix: string;
  logger: Logger;
  /** Uploads allowed per minute per client IP (UPLOAD_RATE_LIMIT). */
  limitPerMinute: number;
}

const WINDOW_MS = 60_000;

function rateLimitInfo(req: Request): RateLimitInfo | undefined {
  const info: unknown = (req as Request & { rateLimit?: unknown }).rateLimit;
  return typeof info === 'object' && info !== null && 'limit' in info ? (info as RateLimitInfo) : undefined;
}

/**
 * Limits uploads per client IP, counted in Redis across API processes (see RedisRateLimitStore for
 * what happens when Redis is down). The client is `req.ip`: with TRUST_PROXY off (Express
 * 'trust proxy' false) that is the TCP peer, so a forged X-Forwarded-For changes nothing; with it on,
 * the address the proxy saw. IPv6 clients are grouped by /56, as one host usually owns that range.
 *
 * Sends `RateLimit`/`RateLimit-Policy` (IETF draft 8) on every answer; a refused request becomes a
 * RateLimitedError, which errorMapping turns into 429 with Retry-After and `{error, message, retryAfter}`.
 * Mount it on the upload route only: `router.post('/api/uploads', uploadRateLimiter(deps), handler)`.
 */
export function uploadRateLimiter(deps: UploadRateLimiterDeps): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: deps.limitPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: 'uploads',
    store: new RedisRateLimitStore({
      redis: deps.redis,
      prefix: `${deps.redisPrefix}:ratelimit:uploads:`,
      logger: deps.logger,
    }),
    logger: {
      error: (error: unknown, message?: string) => {
        deps.logger.warn(message ?? 'rate limiter problem', { err: String(error) });
      },
      warn: (error: unknown, message?: string) => {
        deps.logger.warn(message ?? 'rate limiter warning', { err: String(error) });
      },
    },
    handler: (req, _res, next) => {
      const info = rateLimitInfo(req);
      const resetMs = info?.resetTime ? info.resetTime.getTime() - Date.now() : WINDOW_MS;
      const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
      next(
        new RateLimitedError(
          `Too many uploads: at most ${deps.limitPerMinute} per minute per client. Retry in ${retryAfter} s.`,
          retryAfter,
        ),
      );
    },
  });
}
