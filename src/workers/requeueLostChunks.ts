import type { Queue } from 'bullmq';
import type { Db } from 'mongodb';
import { readBatchHistory } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import type { Logger } from '../logging';
import type { BatchStatusDoc } from '../projections/batchStatus';
import { liveCollection } from '../projections/readModels';
import { chunkJobId, chunkJobOptions, type ChunkJobData } from '../chunkJobs';

/**
 * No batch left behind: a batch `processing` in its current round whose chunk is neither processed
 * (in the log), failed (in the log), nor in the queue gets that chunk's job again. Redis can lose
 * jobs (restarted without persistence, a failover that lost writes, a process call that died
 * between its log record and its enqueue); the log says what is missing. Re-adding an existing
 * job id is a no-op and a chunk processed twice appends nothing new, so the sweep is idempotent.
 */

export interface RequeueLostChunksDeps {
  db: Db;
  eventLog: EventLog;
  queue: Queue<ChunkJobData>;
  logger: Logger;
  /** Batches looked at per sweep (bounded work per tick; the next sweep takes the next ones). */
  maxBatches?: number;
}

const DEFAULT_MAX_BATCHES = 50;

export function createRequeueLostChunks(deps: RequeueLostChunksDeps) {
  let offset = 0;
  return async function requeueLostChunks(): Promise<number> {
    const statuses = await liveCollection<BatchStatusDoc>(deps.db, 'batchStatus');
    const limit = deps.maxBatches ?? DEFAULT_MAX_BATCHES;
    const processing = await statuses
      .find({ status: 'processing' }, { projection: { _id: 1 }, sort: { uploadedPosition: 1 } })
      .toArray();
    // A different window each sweep when there are more than `limit`.
    if (offset >= processing.length) offset = 0;
    const window = processing.slice(offset, offset + limit);
    offset += limit;
    let requeued = 0;
    for (const { _id: batchId } of window) {
      const history = await readBatchHistory(deps.eventLog, batchId);
      // A failed round waits for someone to process the batch again; no round means not asked yet.
      // A retracted batch's chunks count nowhere (its status read model may not show it yet).
      if (history === undefined || history.rounds === 0 || history.retracted) continue;
      if (history.lastFailedPosition > history.lastStartedPosition) continue;
      const absent: number[] = [];
      for (let chunk = 0; chunk < history.chunks; chunk++) {
        if (history.processedChunks.has(chunk)) continue;
        const job = await deps.queue.getJob(chunkJobId(batchId, chunk));
        // Waiting, active, delayed (backing off) or failed (the failure sweep records it): not lost.
        if (job === undefined || (await job.getState()) === 'unknown') absent.push(chunk);
      }
      if (absent.length === 0) continue;
      // A job that completed while the queue was asked is gone from it, and its record is in the
      // log by then: asking the log again leaves only the chunks really lost (a batch of many
      // chunks took minutes to ask about, and each sweep ran a thousand of them again).
      const { processedChunks } = (await readBatchHistory(deps.eventLog, batchId)) ?? history;
      for (const chunk of absent) {
        if (processedChunks.has(chunk)) continue;
        const jobId = chunkJobId(batchId, chunk);
        const data: ChunkJobData = {
          batchId,
          chunk,
          round: history.rounds,
          correlationId: `requeue-${batchId}`,
        };
        await deps.queue.add('chunk', data, { ...chunkJobOptions, jobId });
        requeued += 1;
      }
    }
    if (requeued > 0) deps.logger.warn('requeued chunk jobs the queue had lost', { requeued });
    return requeued;
  };
}

export type RequeueLostChunks = ReturnType<typeof createRequeueLostChunks>;
