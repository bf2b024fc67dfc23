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
 * A file refused for validation costs the server little and is what a user fixing their file sends
 * again and again, so it is counted against a budget this many times the limit on accepted uploads.
 */
export const ATTEMPTS_PER_ACCEPTED = 10;

/**
 * Limits uploads per client IP, counted in Redis across API processes (see RedisRateLimitStore for
 * what happens when Redis is down). Two budgets: `limitPerMinute` uploads that the server accepted
 * (an answer below 400; a refused file or a server fault is given back when its answer is sent),
 * and ATTEMPTS_PER_ACCEPTED times that for every attempt, refused ones included, so that sending
 * invalid files still has a bound. The client is `req.ip`: with TRUST_PROXY off (Express
 * 'trust proxy' false) that is the TCP peer, so a forged X-Forwarded-For changes nothing; with it on,
 * the address the proxy saw. IPv6 clients are grouped by /56, as one host usually owns that range.
 *
 * Sends `RateLimit`/`RateLimit-Policy` (IETF draft 8) for the accepted-upload budget on every answer;
 * a refused request becomes a RateLimitedError, which errorMapping turns into 429 with Retry-After and
 * `{error, message, retryAfter}`.
 * Mount it on the upload route only: `router.post('/api/uploads', uploadRateLimiter(deps), handler)`.
 */
export function uploadRateLimiter(deps: UploadRateLimiterDeps): RequestHandler {
  const attempts = limiter(deps, {
    identifier: 'upload-attempts',
    limit: deps.limitPerMinute * ATTEMPTS_PER_ACCEPTED,
    skipFailedRequests: false,
    standardHeaders: false,
    refusal: (limit, retryAfter) =>
      `Too many upload attempts: at most ${limit} per minute per client, refused files included. Retry in ${retryAfter} s.`,
  });
  const accepted = limiter(deps, {
    identifier: 'uploads',
    limit: deps.limitPerMinute,
    skipFailedRequests: true,
    standardHeaders: 'draft-8',
    refusal: (limit, retryAfter) =>
      `Too many uploads: at most ${limit} per minute per client. Retry in ${retryAfter} s.`,
  });
  return (req, res, next) => {
    void attempts(req, res, (error?: unknown) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      void accepted(req, res, next);
    });
  };
}

function limiter(
  deps: UploadRateLimiterDeps,
  options: {
    identifier: string;
    limit: number;
    skipFailedRequests: boolean;
    standardHeaders: 'draft-8' | false;
    refusal: (limit: number, retryAfter: number) => string;
  },
): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: options.limit,
    standardHeaders: options.standardHeaders,
    legacyHeaders: false,
    identifier: options.identifier,
    skipFailedRequests: options.skipFailedRequests,
    store: new RedisRateLimitStore({
      redis: deps.redis,
      prefix: `${deps.redisPrefix}:ratelimit:${options.identifier}:`,
      logger: deps.logger,
    }),
    logger: {
      error: (error: unknown, message?: string) => {
        deps.logger.warn(message ?? 'rate limiter problem', { err: error });
      },
      warn: (error: unknown, message?: string) => {
        deps.logger.warn(message ?? 'rate limiter warning', { err: error });
      },
    },
    handler: (req, _res, next) => {
      const info = rateLimitInfo(req);
      const resetMs = info?.resetTime ? info.resetTime.getTime() - Date.now() : WINDOW_MS;
      const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
      next(new RateLimitedError(options.refusal(options.limit, retryAfter), retryAfter));
    },
  });
}
