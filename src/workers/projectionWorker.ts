import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import type { RedisClient } from '../redis';
import type { Logger } from '../logging';
import type { CatchUp } from '../projections/projector';

/**
 * The `projections` queue carries wake-ups: one job per appended record, id `wake-<position>`, so a
 * wake-up is never swallowed by a job that is already running. The worker runs every projector's
 * catch-up; the projectors' leases keep it to one writer per projection across processes.
 */
export const PROJECTIONS_QUEUE = 'projections';

export function createProjectionsQueue(connection: RedisClient, prefix: string): Queue {
  return new Queue(PROJECTIONS_QUEUE, { connection, prefix });
}

export async function wakeProjections(queue: Queue, position: number): Promise<void> {
  await queue.add(
    'wake',
    { position },
    { jobId: `wake-${position}`, removeOnComplete: true, removeOnFail: true, attempts: 1 },
  );
}

export interface ProjectionWorkerDeps {
  connection: RedisClient;
  prefix: string;
  catchUps: readonly CatchUp[];
  pollMs: number;
  logger: Logger;
}

/**
 * The least time between the starts of one projector's catch-ups: a steady stream of appends is
 * projected in pages of what arrived meanwhile, not in one catch-up (about a dozen database round
 * trips) per record (docs/performance.md).
 */
const MIN_RUN_INTERVAL_MS = 300;

/** The longest rest after a slow catch-up: a backlog (a big upload processed) is not held back long. */
const MAX_REST_MS = 500;

/**
 * After a catch-up of `d` ms, the next starts no sooner than `d` ms (at most MAX_REST_MS) after it
 * ended: a projector whose pages cost about the same whatever they hold (the series rewrites each
 * document it touches whole) leaves the database to the posts beside it for a while under a steady
 * stream, and gathers more records per page instead.
 */
export function nextStartAfter(startedAt: number, endedAt: number): number {
  return Math.max(startedAt + MIN_RUN_INTERVAL_MS, endedAt + Math.min(MAX_REST_MS, endedAt - startedAt));
}

/**
 * Runs one projector's catch-up at a time in this process; a wake-up during a run asks for one
 * more run after it, so nothing appended meanwhile waits for the next poll.
 */
function singleFlight(catchUp: CatchUp, logger: Logger) {
  // `running` covers a run from its wake-up on, the wait for its turn included.
  let running: Promise<void> | undefined;
  let nextStart = 0;
  const pending = { again: false };
  const repeatRequested = (): boolean => pending.again;
  return {
    wake(): void {
      if (running !== undefined) {
        pending.again = true;
        return;
      }
      running = (async () => {
        try {
          let behind = false;
          do {
            await sleep(Math.max(0, nextStart - Date.now()));
            pending.again = false;
            const startedAt = Date.now();
            behind = await catchUp();
            nextStart = nextStartAfter(startedAt, Date.now());
          } while (behind || repeatRequested());
        } catch (err) {
          logger.warn('projection catch-up failed; will try again', { err });
        } finally {
          running = undefined;
        }
      })();
    },
    async settled(): Promise<void> {
      await running;
    },
  };
}

export function startProjectionWorker(deps: ProjectionWorkerDeps): { close(): Promise<void> } {
  // Each projector on its own: a read model that is quick to update (the daily counts) never waits
  // for a slow page of another (the series); their leases keep one writer per projection.
  const runners = deps.catchUps.map((catchUp) => singleFlight(catchUp, deps.logger));
  const wake = (): void => {
    for (const runner of runners) runner.wake();
  };

  // A wake-up job only starts the runs: a slow projector must not hold the queue for the others.
  const worker = new Worker(
    PROJECTIONS_QUEUE,
    () => {
      wake();
      return Promise.resolve();
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => {
    deps.logger.error('projection worker error', { err });
  });

  // Catch up after a restart without waiting for the next append, then keep polling as a safety net.
  wake();
  const timer = setInterval(wake, deps.pollMs);
  timer.unref();

  return {
    async close() {
      clearInterval(timer);
      await worker.close();
      await Promise.all(runners.map((runner) => runner.settled()));
    },
  };
}
