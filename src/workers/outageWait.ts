import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../logging';
import { isMongoUnavailable } from '../mongo';
import type { ChunkJobData } from './chunkJobs';

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

export interface OutageWaitDeps {
  /** How long a job waits in all for the database to come back before it fails. */
  outageWaitMs: number;
  logger: Logger;
}

/**
 * An unreachable database is not the job's fault: retrying at once would spend its few attempts
 * within seconds of an outage (FerretDB answers at once while its PostgreSQL is down). So the job
 * goes back to `delayed` without spending an attempt, with a backoff that doubles up to 30 s, until
 * `outageWaitMs` has passed since the outage first stopped it; then it fails, saying why. The
 * start of the wait lives in the job's data, so it survives the worker and a new round resets it.
 * Throws for every error: DelayedError (BullMQ's "moved, not failed"), or the error to fail with.
 */
export async function waitOutOutage(
  deps: OutageWaitDeps,
  job: Job<ChunkJobData>,
  token: string | undefined,
  error: unknown,
): Promise<never> {
  if (token === undefined) throw error;
  if (!isMongoUnavailable(error)) {
    // The outage is over; a later one gets a wait of its own.
    if (job.data.unavailableSince !== undefined) {
      const { unavailableSince: _over, ...data } = job.data;
      await job.updateData(data).catch(() => undefined);
    }
    throw error;
  }
  const message = error instanceof Error ? error.message : String(error);
  const now = Date.now();
  const since = job.data.unavailableSince;
  if (since !== undefined && now - since > deps.outageWaitMs) {
    throw new UnrecoverableError(
      `the database stayed unreachable for more than ${Math.round(deps.outageWaitMs / 1000)} s ` +
        `(PROCESSING_OUTAGE_WAIT_MS): ${message}`,
    );
  }
  if (since === undefined) {
    deps.logger.warn('chunk job waits for the database to come back', { jobId: job.id, err: message });
    await job.updateData({ ...job.data, unavailableSince: now });
  }
  const waited = since === undefined ? 0 : now - since;
  const delay = Math.min(MAX_DELAY_MS, Math.max(FIRST_DELAY_MS, waited));
  await job.moveToDelayed(now + delay, token);
  throw new DelayedError();
}
