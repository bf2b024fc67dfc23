import type { Queue } from 'bullmq';
import { BatchRetractedError, NotFoundError } from '../errors';
import { assertDlqQueue, ChunkJobData } from '../chunkJobs';
import type { ProcessBatch } from './processBatch';

const PAGE = 500;

/**
 * Puts the dead-letter queue back to work. A chunk job is retried through ProcessBatch, so its batch
 * starts a new round in the log (status `processing` again) and a repeated failure is recorded too.
 */
export function createRetryFailedJobs(deps: { queue: Queue<ChunkJobData>; processBatch: ProcessBatch }) {
  return async function retryFailedJobs(
    queueName: string,
    correlationId: string,
  ): Promise<{ queueName: string; retried: number }> {
    assertDlqQueue(queueName);
    const batches = new Set<string>();
    let retried = 0;
    for (let start = 0; ; start += PAGE) {
      const jobs = await deps.queue.getFailed(start, start + PAGE - 1);
      for (const job of jobs) {
        const data = ChunkJobData.safeParse(job.data);
        if (data.success) batches.add(data.data.batchId);
        else {
          await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          retried += 1;
        }
      }
      if (jobs.length < PAGE) break;
    }
    for (const batchId of batches) {
      try {
        retried += (await deps.processBatch(batchId, correlationId)).jobsEnqueued;
      } catch (error) {
        // A retracted batch's failed jobs stay dead (its retraction removes them).
        if (!(error instanceof NotFoundError || error instanceof BatchRetractedError)) throw error;
      }
    }
    return { queueName, retried };
  };
}

export type RetryFailedJobs = ReturnType<typeof createRetryFailedJobs>;
