import type { Queue } from 'bullmq';
import { ValidationError } from '../errors';
import { assertDlqQueue, type ChunkJobData } from '../chunkJobs';

export interface FailedJob {
  id: string;
  data: unknown;
  /** The first line of the failure: what went wrong, for a list view. */
  error: string;
  failedReason: string;
  timestamp: number;
  attemptsMade: number;
}

export const DEFAULT_DLQ_LIMIT = 100;
export const MAX_DLQ_LIMIT = 1000;

export function createListFailedJobs(deps: { queue: Queue<ChunkJobData> }) {
  return async function listFailedJobs(
    queueName: string,
    limit = DEFAULT_DLQ_LIMIT,
  ): Promise<{ queueName: string; failedJobs: FailedJob[] }> {
    assertDlqQueue(queueName);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DLQ_LIMIT) {
      throw new ValidationError(`limit must be an integer from 1 to ${MAX_DLQ_LIMIT}`);
    }
    const jobs = await deps.queue.getFailed(0, limit - 1);
    return {
      queueName,
      failedJobs: jobs.map((job) => {
        const failedReason = job.failedReason || 'unknown error';
        return {
          id: job.id ?? '',
          data: job.data,
          error: failedReason.split('\n')[0] ?? failedReason,
          failedReason,
          timestamp: job.finishedOn ?? job.timestamp,
          attemptsMade: job.attemptsMade,
        };
      }),
    };
  };
}

export type ListFailedJobs = ReturnType<typeof createListFailedJobs>;
