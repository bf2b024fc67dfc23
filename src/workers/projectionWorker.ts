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

export function startProjectionWorker(deps: ProjectionWorkerDeps): { close(): Promise<void> } {
  // One catch-up at a time in this process; overlapping calls share the running one and then rerun.
  let running: Promise<void> | undefined;
  const pending = { again: false };
  const repeatRequested = (): boolean => pending.again;
  const catchUpAll = (): Promise<void> => {
    if (running !== undefined) {
      pending.again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          pending.again = false;
          // Side by side: each has its own lease, and one busy projection must not starve another.
          await Promise.all(deps.catchUps.map((catchUp) => catchUp()));
        } while (repeatRequested());
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const worker = new Worker(PROJECTIONS_QUEUE, () => catchUpAll(), {
    connection: deps.connection,
    prefix: deps.prefix,
    concurrency: 1,
  });
  worker.on('error', (err) => {
    deps.logger.error('projection worker error', { err });
  });

  const tick = (): void => {
    catchUpAll().catch((err: unknown) => {
      deps.logger.warn('projection catch-up failed; will try again', { err });
    });
  };
  // Catch up after a restart without waiting for the next append, then keep polling as a safety net.
  tick();
  const timer = setInterval(tick, deps.pollMs);
  timer.unref();

  return {
    async close() {
      clearInterval(timer);
      await worker.close();
      await running?.catch(() => undefined);
    },
  };
}
