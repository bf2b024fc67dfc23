import type { RequestHandler } from 'express';
import { ServiceBusyError } from '../errors';

const RETRY_AFTER_SECONDS = 5;

/**
 * At most `max` request bodies arriving through this handler at once in this process. A slot is
 * held only while the body arrives (an upload is validated into its spool as it arrives, which is
 * what costs memory and disk), and given back once the body has all arrived or the answer is sent:
 * storing waits on the database, not on a slot, so one slow store does not hold further uploads.
 *
 * A request that finds every slot taken waits for one, first come first served, without its body
 * being read (the client is held back by TCP; a body held back is not judged by the minimum body
 * rate). Only one that has waited `waitMs` gets 503 with Retry-After; one whose client goes away
 * meanwhile leaves the queue.
 */
export function limitInFlight(
  max: number,
  what: string,
  waitMs: number,
  onChange: (slots: { busy: number; waiting: number }) => void = () => undefined,
): RequestHandler {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const changed = (): void => {
    onChange({ busy: inFlight, waiting: waiting.length });
  };

  const release = (): void => {
    const waiter = waiting.shift();
    if (waiter === undefined) inFlight -= 1;
    // The slot passes straight on: nobody arriving meanwhile can take it first.
    else waiter();
    changed();
  };

  return (req, res, next) => {
    const enter = (): void => {
      let held = true;
      const leave = (): void => {
        if (!held) return;
        held = false;
        release();
      };
      req.once('end', leave);
      res.once('close', leave);
      next();
    };
    if (inFlight < max) {
      inFlight += 1;
      changed();
      enter();
      return;
    }
    const turn = (): void => {
      clearTimeout(timer);
      res.off('close', gone);
      enter();
    };
    const gone = (): void => {
      clearTimeout(timer);
      const at = waiting.indexOf(turn);
      if (at !== -1) waiting.splice(at, 1);
      changed();
    };
    const timer = setTimeout(() => {
      gone();
      res.off('close', gone);
      next(
        new ServiceBusyError(
          `This server is receiving ${max} ${what} already${waitMs >= 1000 ? ` and none ended within ${Math.round(waitMs / 1000)} s` : ''}; retry in ${RETRY_AFTER_SECONDS} s`,
          RETRY_AFTER_SECONDS,
        ),
      );
    }, waitMs);
    res.once('close', gone);
    waiting.push(turn);
    changed();
  };
}
