import type { Db } from 'mongodb';
import type { AnyLogRecord } from '../events/eventLog';
import { isDuplicateKey } from '../mongo';
import type { Projection, Write } from './projection';

export type BatchStatusValue = 'uploaded' | 'processing' | 'completed' | 'failed';

export interface BatchStatusDoc {
  _id: string;
  batchId: string;
  fileName: string;
  totalEvents: number;
  processedEvents: number;
  status: BatchStatusValue;
  uploadedAt: Date;
  processedAt: Date | null;
  failedReason: string | null;
  /** Position of `BatchUploaded`: unique and increasing, so it orders the batch list. */
  uploadedPosition: number;
  lastPosition: number;
}

/** The batch's state after one more record: a pure function, so replaying the log rebuilds it. */
export function evolveBatchStatus(state: BatchStatusDoc | null, record: AnyLogRecord): BatchStatusDoc | null {
  const at = record.metadata.recordedAt;
  const position = record.position;
  if (record.type === 'BatchUploaded') {
    if (state !== null) return null;
    const { batchId, fileName, newEvents } = record.data;
    return {
      _id: batchId,
      batchId,
      fileName,
      totalEvents: newEvents,
      processedEvents: 0,
      status: 'uploaded',
      uploadedAt: at,
      processedAt: null,
      failedReason: null,
      uploadedPosition: position,
      lastPosition: position,
    };
  }
  if (state === null) return null;
  switch (record.type) {
    case 'BatchProcessingStarted':
      if (state.status === 'completed') return { ...state, lastPosition: position };
      return state.processedEvents >= state.totalEvents
        ? { ...state, status: 'completed', processedAt: at, failedReason: null, lastPosition: position }
        : { ...state, status: 'processing', failedReason: null, lastPosition: position };
    case 'EventsProcessed': {
      const processedEvents = state.processedEvents + record.data.events;
      return processedEvents >= state.totalEvents
        ? {
            ...state,
            processedEvents,
            status: 'completed',
            processedAt: at,
            failedReason: null,
            lastPosition: position,
          }
        : { ...state, processedEvents, lastPosition: position };
    }
    case 'BatchProcessingFailed':
      if (state.status === 'completed') return { ...state, lastPosition: position };
      return { ...state, status: 'failed', failedReason: record.data.reason, lastPosition: position };
  }
}

export function batchIdOf(record: AnyLogRecord): string {
  return record.data.batchId;
}

/** One read-then-replace per record; the replace is conditional on the `lastPosition` it read. */
export const batchStatusProjection: Projection = {
  name: 'batchStatus',

  async ensureIndexes(db: Db, collectionName: string) {
    await db
      .collection<BatchStatusDoc>(collectionName)
      .createIndex({ uploadedPosition: -1 }, { name: 'uploadedPosition' });
  },

  planWrites(db: Db, collectionName: string, record: AnyLogRecord): Write[] {
    const collection = db.collection<BatchStatusDoc>(collectionName);
    return [
      async () => {
        const _id = batchIdOf(record);
        const current = await collection.findOne({ _id });
        if (current !== null && current.lastPosition >= record.position) return;
        const next = evolveBatchStatus(current, record);
        if (next === null) return;
        if (current === null) {
          try {
            await collection.insertOne(next);
          } catch (error) {
            if (!isDuplicateKey(error)) throw error;
          }
          return;
        }
        await collection.replaceOne({ _id, lastPosition: current.lastPosition }, next);
      },
    ];
  },
};
