import { UnrecoverableError } from 'bullmq';
import type { Db } from 'mongodb';
import { batchKeys, batchStream } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import { countByDayAndType, RawEventForCounting, readChunkDocuments } from '../events/rawEventChunks';
import type { Logger } from '../logging';
import { ChunkJobData } from './chunkJobs';

export interface ProcessChunkDeps {
  db: Db;
  eventLog: EventLog;
  logger: Logger;
}

export interface ChunkOutcome {
  position: number;
  appended: boolean;
}

/**
 * Counts one chunk's events per (UTC date, eventType) and appends `EventsProcessed` under the chunk's
 * natural key, so a duplicated delivery or a retry after a crash appends nothing new.
 * Input that can never succeed throws UnrecoverableError: retrying it would only delay the DLQ.
 */
export function createProcessChunk(deps: ProcessChunkDeps) {
  return async function processChunk(rawData: unknown): Promise<ChunkOutcome> {
    const parsed = ChunkJobData.safeParse(rawData);
    if (!parsed.success) throw new UnrecoverableError(`invalid chunk job data: ${parsed.error.message}`);
    const job = parsed.data;
    const key = batchKeys.processed(job.batchId, job.chunk);

    const done = await deps.eventLog.findByKey(key);
    if (done !== undefined) return { position: done.position, appended: false };
    const uploaded = await deps.eventLog.findByKey(batchKeys.uploaded(job.batchId));
    if (uploaded === undefined) throw new UnrecoverableError(`batch ${job.batchId} was never uploaded`);

    const documents = await readChunkDocuments(deps.db, job.batchId, job);
    const events: RawEventForCounting[] = [];
    for (const doc of documents) {
      const event = RawEventForCounting.safeParse(doc);
      if (!event.success) throw new UnrecoverableError(`raw event in chunk ${job.chunk} is malformed`);
      events.push(event.data);
    }
    if (events.length !== job.size) {
      // Raw events are immutable, so a chunk that lost or gained events will not heal by retrying.
      throw new UnrecoverableError(
        `chunk ${job.chunk} of batch ${job.batchId} has ${events.length} events, expected ${job.size}`,
      );
    }

    const { record, appended } = await deps.eventLog.append({
      type: 'EventsProcessed',
      key,
      streamId: batchStream(job.batchId),
      data: {
        batchId: job.batchId,
        chunk: job.chunk,
        events: events.length,
        counts: countByDayAndType(events),
      },
      correlationId: job.correlationId,
    });
    deps.logger.debug('chunk processed', { batchId: job.batchId, chunk: job.chunk, appended });
    return { position: record.position, appended };
  };
}

export type ProcessChunk = ReturnType<typeof createProcessChunk>;
