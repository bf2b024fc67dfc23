import type { RequestHandler } from 'express';
import type { Logger } from '../logging';

/** One log line per finished request, with its correlation id (added by the logger's format). */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    // Checked once per request: below the configured level a log call still costs its formatting.
    if (!logger.isLevelEnabled('http')) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logRequest(logger, {
        correlationId: req.correlationId,
        method: req.method,
        url: req.originalUrl,
        status: res.statusCode,
        started,
      });
    });
    next();
  };
}

/** The request's log line (level http); `started` is process.hrtime.bigint() when it came in. */
export function logRequest(
  logger: Logger,
  request: { correlationId: string; method: string; url: string; status: number; started: bigint },
): void {
  const ms = Number(process.hrtime.bigint() - request.started) / 1e6;
  logger.http('request', {
    correlationId: request.correlationId,
    method: request.method,
    path: request.url.split('?')[0],
    status: request.status,
    ms: Math.round(ms * 10) / 10,
  });
}
