import type { RequestHandler } from 'express';
import { ServiceBusyError } from '../errors';

const RETRY_AFTER_SECONDS = 5;

/**
 * At most `max` requests through this handler at once in this process; the next ones get 503 with
 * Retry-After before their body is read. Uploads hold memory, a spool file and database time while
 * they run, so a burst of big files waits its turn at the client instead of failing half-way.
 */
export function limitInFlight(max: number, what: string): RequestHandler {
  let inFlight = 0;
  return (_req, res, next) => {
    if (inFlight >= max) {
      next(
        new ServiceBusyError(
          `This server is already handling ${max} ${what}; retry in ${RETRY_AFTER_SECONDS} s`,
          RETRY_AFTER_SECONDS,
        ),
      );
      return;
    }
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
    next();
  };
}
