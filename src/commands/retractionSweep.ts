import { startPeriodicSweep } from './periodicSweep';
import type { Logger } from '../logging';
import {
  appendBatchRetracted,
  batchRetractions,
  cleanUpRetraction,
  type CleanupDeps,
} from './batchRetractions';
import type { EventLog } from '../events/eventLog';

/**
 * Finishes retractions left half-done (the API stopped between recording one and its cleanup): a
 * sweep in every API process, once at start and then every few seconds, like the claim sweep. A
 * retraction is taken over only once nobody renewed its heartbeat for `expiryMs`, so a live cleanup
 * is never joined by a second one.
 */

export interface RetractionSweepDeps extends CleanupDeps {
  eventLog: EventLog;
  logger: Logger;
  expiryMs: number;
}

/** Retractions finished per sweep, so one tick stays bounded; the next tick takes the rest. */
const RETRACTIONS_PER_SWEEP = 5;

/** One pass: the stopped retractions get their BatchRetracted (if missing) and their cleanup. */
export async function sweepRetractions(deps: RetractionSweepDeps): Promise<number> {
  const now = Date.now();
  const pending = await batchRetractions(deps.db)
    .find({ cleanedAt: { $exists: false } })
    .toArray();
  let finished = 0;
  for (const doc of pending) {
    if (finished >= RETRACTIONS_PER_SWEEP) break;
    const lastBeat = (doc.heartbeatAt ?? doc.requestedAt).getTime();
    if (now - lastBeat <= deps.expiryMs) continue;
    const { appended } = await appendBatchRetracted(deps.eventLog, doc);
    await cleanUpRetraction(deps, doc._id);
    deps.logger.info('finished a retraction whose request stopped', { batchId: doc._id, appended });
    finished += 1;
  }
  return finished;
}

/** Sweeps once now and then every `intervalMs`. */
export function startRetractionSweep(deps: RetractionSweepDeps & { intervalMs: number }): { stop(): void } {
  return startPeriodicSweep(() => sweepRetractions(deps), {
    intervalMs: deps.intervalMs,
    logger: deps.logger,
    failure: 'could not finish stopped retractions',
  });
}
