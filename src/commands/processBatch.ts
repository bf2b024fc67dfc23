import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '../redis';
import type { Db } from 'mongodb';
import { BatchRetractedError, NotFoundError } from '../errors';
import { batchKeys, batchStream, readBatchHistory, type BatchHistory } from '../events/batchHistory';
import type { EventLog, NewRecord } from '../events/eventLog';
import { planChunks } from '../events/deriveChunks';
import type { FingerprintOf } from '../events/userFingerprint';
import type { Logger } from '../logging';
import { chunkJobId, chunkJobOptions, type ChunkJobData } from '../chunkJobs';
import { withLock } from './batchLock';

export interface ProcessBatchResult {
  batchId: string;
  /** Jobs this call added or put back from the failed set; jobs that already existed are not counted. */
  jobsEnqueued: number;
  /** Chunks whose job was already waiting or running: left alone. */
  alreadyQueued: number;
}

export interface ProcessBatchDeps {
  db: Db;
  eventLog: EventLog;
  queue: Queue<ChunkJobData>;
  /** Fail-fast connection for the per-batch lock. */
  redis: RedisClient;
  redisPrefix: string;
  /** The chunk size for a batch whose BatchUploaded (v1) does not record one. */
  eventsPerChunk: number;
  /** Users' fingerprints, for chunks derived from raw events (a batch stored before chunk documents). */
  fingerprintOf: FingerprintOf;
  logger: Logger;
}

const ADD_BULK_SIZE = 500;

/**
 * The record that opens processing round `round` of a batch. Chunk jobs of the round are added only
 * once it is in the log: no job exists before it, which is what a first process call relies on.
 */
export function processingStartedRecord(
  batchId: string,
  round: number,
  chunks: number,
  totalEvents: number,
  correlationId: string,
): NewRecord<'BatchProcessingStarted'> {
  return {
    type: 'BatchProcessingStarted',
    key: batchKeys.started(batchId, round),
    streamId: batchStream(batchId),
    data: { batchId, round, chunks, totalEvents },
    correlationId,
  };
}

/** Adds chunk jobs; BullMQ leaves a job whose id is already in the queue as it is. */
export async function addChunkJobs(queue: Queue<ChunkJobData>, jobs: readonly ChunkJobData[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += ADD_BULK_SIZE) {
    await queue.addBulk(
      jobs.slice(i, i + ADD_BULK_SIZE).map((data) => ({
        name: 'chunk',
        data,
        opts: { ...chunkJobOptions, jobId: chunkJobId(data.batchId, data.chunk) },
      })),
    );
  }
}

/** Where a pending chunk's job stands: none, waiting or running, or finished and revivable. */
type JobPresence =
  { kind: 'absent' } | { kind: 'queued' } | { kind: 'finished'; job: Job; state: 'failed' | 'completed' };

async function presenceOf(queue: Queue<ChunkJobData>, jobId: string): Promise<JobPresence> {
  const job = await queue.getJob(jobId);
  if (job === undefined) return { kind: 'absent' };
  const state = await job.getState();
  if (state === 'unknown') return { kind: 'absent' };
  if (state === 'failed' || state === 'completed') return { kind: 'finished', job, state };
  return { kind: 'queued' };
}

/** Puts a failed (or kept completed) job back to wait; false when it had left that state meanwhile. */
async function revive(job: Job, state: 'failed' | 'completed', data: ChunkJobData): Promise<boolean> {
  try {
    await job.updateData(data);
    await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  } catch {
    // Retried or removed by something other than a process call (an operator, another release).
    return false;
  }
}

/**
 * Enqueues one job per chunk that the log does not yet show as processed; a chunk whose job failed
 * is retried. Job ids are deterministic, so a chunk never has two jobs at once. Calls for one batch
 * run one at a time (a Redis lock): BullMQ answers an add of an existing job id as it answers a new
 * one, so only a call that knows nobody else is adding can say how many jobs it really enqueued.
 */
export function createProcessBatch(deps: ProcessBatchDeps) {
  async function historyOf(batchId: string): Promise<BatchHistory> {
    const history = await readBatchHistory(deps.eventLog, batchId);
    if (history === undefined) throw new NotFoundError(`Batch ${batchId} not found`);
    if (history.retracted) {
      throw new BatchRetractedError(
        `Batch ${batchId} was retracted and is not processed again; upload the corrected file as a new batch`,
      );
    }
    return history;
  }

  async function enqueue(batchId: string, correlationId: string): Promise<ProcessBatchResult> {
    let history = await historyOf(batchId);
    const eventsPerChunk = history.uploaded.data.eventsPerChunk ?? deps.eventsPerChunk;
    const chunks = await planChunks(
      deps.db,
      batchId,
      history.uploaded.data.newEvents,
      eventsPerChunk,
      deps.fingerprintOf,
    );
    const pending = new Map<number, JobPresence>();
    for (const { chunk } of chunks) {
      if (!history.processedChunks.has(chunk))
        pending.set(chunk, await presenceOf(deps.queue, chunkJobId(batchId, chunk)));
    }
    if (history.rounds > 0 && [...pending.values()].some((p) => p.kind === 'absent')) {
      // A job that completed since the log was read has left the queue; the log, read again, shows
      // it. Before the first round no job was ever added (jobs follow BatchProcessingStarted).
      history = await historyOf(batchId);
      for (const chunk of pending.keys()) if (history.processedChunks.has(chunk)) pending.delete(chunk);
    }

    // A new round starts on the first call and after a failure, so the status is a function of the log.
    let round = history.rounds;
    if (round === 0 || (pending.size > 0 && history.lastFailedPosition > history.lastStartedPosition)) {
      round += 1;
      await deps.eventLog.append(
        processingStartedRecord(
          batchId,
          round,
          chunks.length,
          history.uploaded.data.newEvents,
          correlationId,
        ),
      );
    }

    let jobsEnqueued = 0;
    let alreadyQueued = 0;
    const toAdd: ChunkJobData[] = [];
    for (const [chunk, presence] of pending) {
      const data: ChunkJobData = { batchId, round, correlationId, chunk };
      if (presence.kind === 'absent') toAdd.push(data);
      else if (presence.kind === 'queued') alreadyQueued += 1;
      else if (await revive(presence.job, presence.state, data)) jobsEnqueued += 1;
      else alreadyQueued += 1;
    }
    await addChunkJobs(deps.queue, toAdd);
    jobsEnqueued += toAdd.length;
    deps.logger.info('batch processing requested', {
      batchId,
      round,
      chunks: chunks.length,
      jobsEnqueued,
      alreadyQueued,
    });
    return { batchId, jobsEnqueued, alreadyQueued };
  }

  return async function processBatch(batchId: string, correlationId: string): Promise<ProcessBatchResult> {
    // Checked before the lock, so an id that names no batch takes no lock.
    await historyOf(batchId);
    return withLock(
      deps.redis,
      `${deps.redisPrefix}:lock:process-batch:${batchId}`,
      () => enqueue(batchId, correlationId),
      `Another request is still enqueueing batch ${batchId}; try again in a few seconds`,
    );
  };
}

export type ProcessBatch = ReturnType<typeof createProcessBatch>;
