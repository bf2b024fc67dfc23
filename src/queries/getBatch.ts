import type { Db } from 'mongodb';
import { NotFoundError } from '../errors';
import { batchKeys, batchStream, mayBeBatchId } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import { evolveBatchStatus, shownFailureReason, type BatchStatusDoc } from '../projections/batchStatus';
import { liveCollection } from '../projections/readModels';

export interface BatchStatus {
  batchId: string;
  fileName: string;
  totalEvents: number;
  processedEvents: number;
  status: BatchStatusDoc['status'];
  uploadedAt: string;
  processedAt: string | null;
  failedReason: string | null;
  /** Whole percent of events processed; 100 only when every event is. */
  progress: number;
  /** First and last UTC day (YYYY-MM-DD) of the events processed so far; null before any is. */
  firstDay: string | null;
  lastDay: string | null;
}

export function toBatchStatus(doc: BatchStatusDoc): BatchStatus {
  const progress =
    doc.totalEvents === 0
      ? doc.status === 'completed'
        ? 100
        : 0
      : Math.min(100, Math.floor((doc.processedEvents / doc.totalEvents) * 100));
  return {
    batchId: doc.batchId,
    fileName: doc.fileName,
    totalEvents: doc.totalEvents,
    processedEvents: doc.processedEvents,
    status: doc.status,
    uploadedAt: doc.uploadedAt.toISOString(),
    processedAt: doc.processedAt?.toISOString() ?? null,
    failedReason: shownFailureReason(doc.failedReason),
    progress,
    firstDay: doc.firstDay ?? null,
    lastDay: doc.lastDay ?? null,
  };
}

/**
 * The batch's status from the read model; a batch the projector has not reached yet is folded from
 * its own records in the log, so a client that just uploaded never sees a 404 for its batch.
 */
export function createGetBatch(deps: { db: Db; eventLog: EventLog }) {
  return async function getBatch(batchId: string): Promise<BatchStatus> {
    if (!mayBeBatchId(batchId)) throw new NotFoundError(`Batch ${batchId} not found`);
    const collection = await liveCollection<BatchStatusDoc>(deps.db, 'batchStatus');
    const doc = await collection.findOne({ _id: batchId });
    if (doc !== null) return toBatchStatus(doc);
    const uploaded = await deps.eventLog.findByKey(batchKeys.uploaded(batchId));
    if (uploaded === undefined) throw new NotFoundError(`Batch ${batchId} not found`);
    let state = evolveBatchStatus(null, uploaded);
    for (const record of await deps.eventLog.readStream(batchStream(batchId))) {
      if (record.data.batchId === batchId) state = evolveBatchStatus(state, record) ?? state;
    }
    if (state === null) throw new NotFoundError(`Batch ${batchId} not found`);
    return toBatchStatus(state);
  };
}

export type GetBatch = ReturnType<typeof createGetBatch>;
