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
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.http('request', {
        correlationId: req.correlationId,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
      });
    });
    next();
  };
}
