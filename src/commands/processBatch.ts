import type { Queue } from 'bullmq';
import type { Db } from 'mongodb';
import { NotFoundError } from '../errors';
import { batchKeys, batchStream, readBatchHistory } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import { planChunks } from '../events/rawEventChunks';
import type { Logger } from '../logging';
import { chunkJobId, chunkJobOptions, type ChunkJobData } from '../workers/chunkJobs';

export interface ProcessBatchResult {
  batchId: string;
  jobsEnqueued: number;
  /** Chunks whose job was already waiting or running: left alone. */
  alreadyQueued: number;
}

export interface ProcessBatchDeps {
  db: Db;
  eventLog: EventLog;
  queue: Queue<ChunkJobData>;
  eventsPerJob: number;
  logger: Logger;
}

const ADD_BULK_SIZE = 500;

/**
 * Enqueues one job per chunk that the log does not yet show as processed. Job ids are deterministic,
 * so repeated or concurrent calls add each chunk at most once; a chunk whose job failed is retried.
 */
export function createProcessBatch(deps: ProcessBatchDeps) {
  return async function processBatch(batchId: string, correlationId: string): Promise<ProcessBatchResult> {
    const history = await readBatchHistory(deps.eventLog, batchId);
    if (history === undefined) throw new NotFoundError(`Batch ${batchId} not found`);
    const eventsPerChunk = history.eventsPerChunk ?? deps.eventsPerJob;
    const chunks = await planChunks(deps.db, batchId, history.uploaded.data.newEvents, eventsPerChunk);
    const pending = chunks.filter((c) => !history.processedChunks.has(c.chunk));

    // A new round starts on the first call and after a failure, so the status is a function of the log.
    let round = history.rounds;
    if (round === 0 || (pending.length > 0 && history.lastFailedPosition > history.lastStartedPosition)) {
      round += 1;
      await deps.eventLog.append({
        type: 'BatchProcessingStarted',
        key: batchKeys.started(batchId, round),
        streamId: batchStream(batchId),
        data: {
          batchId,
          round,
          eventsPerChunk,
          chunks: chunks.length,
          totalEvents: history.uploaded.data.newEvents,
        },
        correlationId,
      });
    }

    let jobsEnqueued = 0;
    let alreadyQueued = 0;
    const toAdd: ChunkJobData[] = [];
    for (const { chunk } of pending) {
      const data: ChunkJobData = { batchId, round, correlationId, chunk };
      const outcome = await reviveExistingJob(deps.queue, chunkJobId(batchId, chunk), data);
      if (outcome === 'absent') toAdd.push(data);
      else if (outcome === 'revived') jobsEnqueued += 1;
      else alreadyQueued += 1;
    }
    for (let i = 0; i < toAdd.length; i += ADD_BULK_SIZE) {
      const slice = toAdd.slice(i, i + ADD_BULK_SIZE);
      await deps.queue.addBulk(
        slice.map((data) => ({
          name: 'chunk',
          data,
          opts: { ...chunkJobOptions, jobId: chunkJobId(batchId, data.chunk) },
        })),
      );
      jobsEnqueued += slice.length;
    }
    deps.logger.info('batch processing requested', {
      batchId,
      round,
      chunks: chunks.length,
      jobsEnqueued,
      alreadyQueued,
    });
    return { batchId, jobsEnqueued, alreadyQueued };
  };
}

/** 'absent': no job with this id; 'revived': a failed or stale job was put back; 'queued': leave it. */
async function reviveExistingJob(
  queue: Queue<ChunkJobData>,
  jobId: string,
  data: ChunkJobData,
): Promise<'absent' | 'revived' | 'queued'> {
  const job = await queue.getJob(jobId);
  if (job === undefined) return 'absent';
  const state = await job.getState();
  if (state === 'unknown') return 'absent';
  if (state !== 'failed' && state !== 'completed') return 'queued';
  try {
    await job.updateData(data);
    await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    return 'revived';
  } catch {
    // A concurrent call revived it first (it is no longer in that state): nothing more to do.
    return 'queued';
  }
}

export type ProcessBatch = ReturnType<typeof createProcessBatch>;
