import { ServiceBusyError } from '../errors';

/**
 * Bounds the costly computations (cold series) one process runs at once: `concurrent` run, up to
 * `waiting` more wait their turn in arrival order, and any further one is refused at once with
 * ServiceBusyError (503, Retry-After). Unbounded, four cold years at once held the API at half a
 * gigabyte and seconds of event-loop lag, so every other request waited with them.
 */
export interface ComputeSlots {
  run<T>(compute: () => Promise<T>): Promise<T>;
}

export function createComputeSlots(options: {
  concurrent: number;
  waiting: number;
  retryAfterSeconds: number;
}): ComputeSlots {
  let running = 0;
  const queue: (() => void)[] = [];

  function release(): void {
    const next = queue.shift();
    if (next === undefined) running -= 1;
    else next();
  }

  return {
    async run<T>(compute: () => Promise<T>): Promise<T> {
      if (running < options.concurrent) running += 1;
      else if (queue.length < options.waiting) await new Promise<void>((turn) => queue.push(turn));
      else {
        throw new ServiceBusyError(
          'Too many uncached series are being computed; retry shortly',
          options.retryAfterSeconds,
        );
      }
      try {
        return await compute();
      } finally {
        release();
      }
    },
  };
}
