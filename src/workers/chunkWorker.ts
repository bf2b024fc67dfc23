import { Worker, type Job, type Queue } from 'bullmq';
import type { RedisClient } from '../redis';
import { batchKeys, batchStream } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import { runWithCorrelationId, type Logger } from '../logging';
import { ChunkJobData, PROCESSING_QUEUE } from './chunkJobs';
import { waitOutOutage } from './outageWait';
import type { ChunkOutcome, ProcessChunk } from './processChunk';

export interface ChunkWorkerDeps {
  connection: RedisClient;
  prefix: string;
  concurrency: number;
  processChunk: ProcessChunk;
  eventLog: EventLog;
  queue: Queue<ChunkJobData>;
  logger: Logger;
  /** Re-adds the jobs of chunks that the queue lost (see commands/requeueLostChunks). */
  requeueLostChunks: () => Promise<number>;
  /**
   * How often the queue is compared with the log: failed jobs whose failure a crash kept out of the
   * log, and chunks of processing batches that have no job at all.
   */
  sweepIntervalMs: number;
  /** See PROCESSING_OUTAGE_WAIT_MS. */
  outageWaitMs: number;
  /** See PROCESSING_MAX_STALLS. */
  maxStalls: number;
}

const MAX_REASON = 2000;
const SWEEP_PAGE = 500;

/** Appends `BatchProcessingFailed` for a job that is in the failed set (the DLQ); idempotent per round. */
export async function recordChunkFailure(eventLog: EventLog, job: Job): Promise<void> {
  const parsed = ChunkJobData.safeParse(job.data);
  if (!parsed.success) return;
  const { batchId, round, chunk, correlationId } = parsed.data;
  await eventLog.append({
    type: 'BatchProcessingFailed',
    key: batchKeys.failed(batchId, round, chunk),
    streamId: batchStream(batchId),
    data: { batchId, round, chunk, reason: (job.failedReason || 'unknown error').slice(0, MAX_REASON) },
    correlationId,
  });
}

/** Records every job of the DLQ in the log (no-op for those already recorded). */
export async function sweepFailedChunks(queue: Queue<ChunkJobData>, eventLog: EventLog): Promise<number> {
  let seen = 0;
  for (let start = 0; ; start += SWEEP_PAGE) {
    const jobs = await queue.getFailed(start, start + SWEEP_PAGE - 1);
    for (const job of jobs) await recordChunkFailure(eventLog, job);
    seen += jobs.length;
    if (jobs.length < SWEEP_PAGE) return seen;
  }
}

export function startChunkWorker(deps: ChunkWorkerDeps): { close(): Promise<void> } {
  const worker = new Worker<ChunkJobData, ChunkOutcome>(
    PROCESSING_QUEUE,
    (job, token) => {
      const correlationId =
        typeof job.data.correlationId === 'string' ? job.data.correlationId : `job-${job.id ?? ''}`;
      return runWithCorrelationId(correlationId, () =>
        deps.processChunk(job.data).catch((error: unknown) => waitOutOutage(deps, job, token, error)),
      );
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency,
      // A job whose worker died is back in the queue within about 20 s, not BullMQ's 30 + 30 s; a
      // job still running renews its lock every 7.5 s. A stall is the worker's death, not the
      // job's fault, and a chunk run twice appends nothing new: only a job that loses its worker
      // more than `maxStalls` times (one that kills the worker itself) fails for good.
      lockDuration: 15_000,
      stalledInterval: 5000,
      maxStalledCount: deps.maxStalls,
    },
  );
  worker.on('failed', (job, error) => {
    if (job === undefined) return;
    void (async () => {
      // Only a job that ended in the failed set is a failure of the chunk; others are retries.
      if ((await job.getState()) !== 'failed') return;
      deps.logger.warn('chunk job failed for good', { jobId: job.id, err: error.message });
      await recordChunkFailure(deps.eventLog, job);
    })().catch((err: unknown) => {
      deps.logger.error('could not record a chunk failure; the sweep will retry', { err });
    });
  });
  worker.on('error', (err) => {
    deps.logger.error('chunk worker error', { err: err.message });
  });

  let sweeping = false;
  const sweep = (): void => {
    if (sweeping) return;
    sweeping = true;
    sweepFailedChunks(deps.queue, deps.eventLog)
      .then(() => deps.requeueLostChunks())
      .catch((err: unknown) => {
        deps.logger.warn('queue sweep did not finish; will try again', { err: String(err) });
      })
      .finally(() => {
        sweeping = false;
      });
  };
  sweep();
  const timer = setInterval(sweep, deps.sweepIntervalMs);
  timer.unref();

  return {
    async close() {
      clearInterval(timer);
      await worker.close();
    },
  };
}
