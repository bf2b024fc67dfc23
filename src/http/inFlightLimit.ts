import type { RequestHandler } from 'express';
import { ServiceBusyError } from '../errors';

const RETRY_AFTER_SECONDS = 5;

/**
 * At most `max` request bodies arriving through this handler at once in this process; the next
 * requests get 503 with Retry-After before their body is read. A slot is held only while the body
 * arrives (an upload is validated into its spool as it arrives, which is what costs memory and
 * disk), and given back once the body has all arrived or the answer is sent: storing waits on the
 * database, not on a slot, so one slow store does not turn further uploads away.
 */
export function limitInFlight(max: number, what: string): RequestHandler {
  let inFlight = 0;
  return (req, res, next) => {
    if (inFlight >= max) {
      next(
        new ServiceBusyError(
          `This server is already receiving ${max} ${what}; retry in ${RETRY_AFTER_SECONDS} s`,
          RETRY_AFTER_SECONDS,
        ),
      );
      return;
    }
    inFlight += 1;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      inFlight -= 1;
    };
    req.once('end', release);
    res.once('close', release);
    next();
  };
}
