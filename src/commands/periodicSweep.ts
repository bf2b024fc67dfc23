import type { Logger } from '../logging';

/**
 * Runs a sweep now and then every `intervalMs`, never two passes at once; a pass that fails is
 * logged (`failure` says what was not done) and the next one tries again. The background duties
 * of the API (stopped uploads, retractions, erasures) all run this way.
 */
export function startPeriodicSweep(
  sweep: () => Promise<unknown>,
  options: { intervalMs: number; logger: Logger; failure: string },
): { stop(): void } {
  let running = false;
  const tick = (): void => {
    if (running) return;
    running = true;
    sweep()
      .catch((error: unknown) => {
        options.logger.warn(`${options.failure}; will try again`, { err: String(error) });
      })
      .finally(() => {
        running = false;
      });
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
