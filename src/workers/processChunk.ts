import { UnrecoverableError } from 'bullmq';
import { batchKeys, batchStream } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import { detailOf } from '../events/chunkDetail';
import { daySpanOf } from '../events/dailyCounts';
import type { CountableEvent } from '../events/rawEventChunks';
import type { ReadChunk } from '../events/readChunks';
import type { Logger } from '../logging';
import { ChunkJobData } from '../chunkJobs';

export interface ProcessChunkDeps {
  eventLog: EventLog;
  /** The chunk's events as the upload stored them (see events/rawEventChunks). */
  readChunk: (batchId: string, chunk: number) => Promise<ReadChunk | undefined>;
  logger: Logger;
}

export interface ChunkOutcome {
  position: number;
  appended: boolean;
}

/**
 * Counts one chunk's events per (UTC quarter-hour, eventType, user) and appends `EventsProcessed` under the chunk's
 * natural key, so a duplicated delivery or a retry after a crash appends nothing new.
 * Input that can never succeed throws UnrecoverableError: retrying it would only delay the DLQ.
 */
export function createProcessChunk(deps: ProcessChunkDeps) {
  const knownBatches = new Set<string>();
  return async function processChunk(rawData: unknown): Promise<ChunkOutcome> {
    const parsed = ChunkJobData.safeParse(rawData);
    if (!parsed.success) throw new UnrecoverableError(`invalid chunk job data: ${parsed.error.message}`);
    const job = parsed.data;
    const key = batchKeys.processed(job.batchId, job.chunk);

    // Job data comes from ProcessBatch, which found the batch; checking once per batch guards
    // against a payload made up elsewhere without a log scan per chunk.
    if (!knownBatches.has(job.batchId)) {
      const uploaded = await deps.eventLog.findByKey(batchKeys.uploaded(job.batchId));
      if (uploaded === undefined) throw new UnrecoverableError(`batch ${job.batchId} was never uploaded`);
      knownBatches.add(job.batchId);
    }

    // A retracted batch counts nowhere: its chunk (perhaps deleted already) is not read, and the job
    // completes quietly. One read by key per job, so a retraction stops the jobs already queued.
    const retraction = await deps.eventLog.findByKey(batchKeys.retracted(job.batchId));
    if (retraction !== undefined) {
      deps.logger.debug('chunk of a retracted batch skipped', { batchId: job.batchId, chunk: job.chunk });
      return { position: retraction.position, appended: false };
    }

    const stored = await deps.readChunk(job.batchId, job.chunk);
    if (stored === undefined) {
      throw new UnrecoverableError(`chunk ${job.chunk} of batch ${job.batchId} has no stored events`);
    }
    const events: NonNullable<CountableEvent>[] = [];
    for (const event of stored.events) {
      // A stored event that cannot be counted stays uncountable: retrying will not change it.
      if (event === null) throw new UnrecoverableError(`chunk ${job.chunk} holds a malformed raw event`);
      // Every chunk document this version writes keeps users; one without them was never written.
      if (event[2] === undefined)
        throw new UnrecoverableError(`chunk ${job.chunk} holds an event without its user`);
      events.push(event);
    }

    const { record, appended } = await deps.eventLog.append({
      type: 'EventsProcessed',
      key,
      streamId: batchStream(job.batchId),
      data: {
        batchId: job.batchId,
        chunk: job.chunk,
        events: events.length,
        ...daySpanOf(events),
        detail: detailOf(events),
        revision: stored.revision,
      },
      correlationId: job.correlationId,
    });
    deps.logger.debug('chunk processed', { batchId: job.batchId, chunk: job.chunk, appended });
    return { position: record.position, appended };
  };
}

export type ProcessChunk = ReturnType<typeof createProcessChunk>;
