import type { Db } from 'mongodb';
import type { Config } from '../config';
import type { Logger } from '../logging';

export interface RunningWorkers {
  /** Stops taking jobs, lets active ones finish (or be released for retry), then closes connections. */
  close(): Promise<void>;
}

export interface WorkerDeps {
  config: Config;
  logger: Logger;
  db: Db;
}

/** Starts every background worker of the service. */
export function startWorkers(deps: WorkerDeps): RunningWorkers {
  const closers: (() => Promise<void>)[] = [];
  deps.logger.info('workers started', { count: closers.length });
  return {
    async close() {
      await Promise.all(closers.map((close) => close()));
    },
  };
}
