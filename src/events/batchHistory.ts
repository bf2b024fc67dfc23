import type { EventLog, LogRecord } from './eventLog';

/** Natural keys and stream of a batch's records (see contracts: `<Type>:<batchId>[:<n>...]`). */
export const batchStream = (batchId: string): string => `batch:${batchId}`;
/**
 * A batch's corrections (BatchRetracted, UserErased) live on a stream of their own, so a projector
 * asks for a page's batches "were any corrected?" with a read of a few small records, not of
 * every EventsProcessed of the batch.
 */
export const correctionsStream = (batchId: string): string => `corrections:${batchId}`;
export const batchKeys = {
  retracted: (batchId: string) => `BatchRetracted:${batchId}`,
  /** A batch's first UserErased of an erasure has no part number; more parts, see eraseUser. */
  erased: (erasureId: string, batchId: string, part = 0) =>
    `UserErased:${erasureId}:${batchId}${part === 0 ? '' : `:${part}`}`,
  uploaded: (batchId: string) => `BatchUploaded:${batchId}`,
  started: (batchId: string, round: number) => `BatchProcessingStarted:${batchId}:${round}`,
  processed: (batchId: string, chunk: number) => `EventsProcessed:${batchId}:${chunk}`,
  failed: (batchId: string, round: number, chunk: number) =>
    `BatchProcessingFailed:${batchId}:${round}:${chunk}`,
};

const BATCH_ID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Batch ids are random UUIDs (see uploadBatch). Any other string names no batch, and is not sent
 * to the database at all: FerretDB on PostgreSQL fails a query on a string holding a NUL.
 */
export const mayBeBatchId = (id: string): boolean => BATCH_ID_SHAPE.test(id);

/** What the log says about one batch's processing, folded from its stream. */
export interface BatchHistory {
  uploaded: LogRecord<'BatchUploaded'>;
  rounds: number;
  /** Chunks of the batch, as the last processing round counted them (0 before any round). */
  chunks: number;
  lastStartedPosition: number;
  lastFailedPosition: number;
  processedChunks: Set<number>;
  /** BatchRetracted is in the log: nothing of the batch is processed any more. */
  retracted: boolean;
}

export async function readBatchHistory(log: EventLog, batchId: string): Promise<BatchHistory | undefined> {
  if (!mayBeBatchId(batchId)) return undefined;
  // One round trip: BatchUploaded is the first record of the batch's own stream.
  const [records, retraction] = await Promise.all([
    log.readStream(batchStream(batchId)),
    log.findByKey(batchKeys.retracted(batchId)),
  ]);
  const uploaded = records.find((record) => record.key === batchKeys.uploaded(batchId));
  if (uploaded?.type !== 'BatchUploaded') return undefined;
  const history = {
    rounds: 0,
    chunks: 0,
    lastStartedPosition: 0,
    lastFailedPosition: 0,
    processedChunks: new Set<number>(),
  };
  for (const record of records) {
    // The stream id is a convention; the data's batchId is what counts.
    if (record.data.batchId !== batchId) continue;
    switch (record.type) {
      case 'BatchUploaded':
        break;
      case 'BatchProcessingStarted':
        history.rounds = Math.max(history.rounds, record.data.round);
        history.chunks = record.data.chunks;
        history.lastStartedPosition = record.position;
        break;
      case 'BatchProcessingFailed':
        history.lastFailedPosition = record.position;
        break;
      case 'EventsProcessed':
        history.processedChunks.add(record.data.chunk);
        break;
    }
  }
  return { uploaded, ...history, retracted: retraction !== undefined };
}
