import type { Db } from 'mongodb';
import type { AnyLogRecord } from '../events/eventLog';
import { eventsErasedBy, type CountedRecord, type Effect } from '../events/corrections';
import {
  recallFrom,
  writesOf,
  type Planned,
  type PositionedDoc,
  type Projection,
  type Write,
} from './projection';

export type BatchStatusValue = 'uploaded' | 'processing' | 'completed' | 'failed' | 'retracted';

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
  /**
   * The first and last UTC day (YYYY-MM-DD) of the events processed so far, from the day spans of
   * EventsProcessed; null until a chunk is processed. Optional: documents projected before
   * these fields existed lack them until `npm run rebuild-projections`.
   */
  firstDay?: string | null;
  lastDay?: string | null;
  /** When the latest processing round started (BatchProcessingStarted), for the duration logged. */
  processingStartedAt?: Date | null;
  /**
   * Log position of the batch's latest EventsProcessed record: the other read models hold all of
   * the batch once their checkpoints reach it (null before any chunk; absent on older documents).
   */
  countedPosition?: number | null;
  /** When BatchRetracted was recorded, and why (null while the batch is live). */
  retractedAt?: Date | null;
  retractionReason?: string | null;
}

/**
 * What a failed batch tells anyone who can read its status. The record's own reason is whatever the
 * job threw (a zod issue dump, a driver message naming hosts): it stays in the log, the logs and the
 * admin-only dead-letter queue, and the public read model says only which chunk failed and where
 * to look.
 */
export function publicFailureReason(chunk?: number): string {
  const what = chunk === undefined ? 'A chunk of this batch' : `Chunk ${chunk} of this batch`;
  return (
    `${what} could not be processed; an operator can see why in the dead-letter queue ` +
    '(GET /api/queues/event-processing/dlq). Process the batch again once the cause is fixed.'
  );
}

const PUBLIC_FAILURE_REASON = /^(Chunk \d+|A chunk) of this batch could not be processed; /;

/** A stored reason as it may be shown: documents projected before reasons were public get the general one. */
export function shownFailureReason(stored: string | null): string | null {
  if (stored === null) return null;
  return PUBLIC_FAILURE_REASON.test(stored) ? stored : publicFailureReason();
}

/** The batch's day span widened by the days of one EventsProcessed record (YYYY-MM-DD sorts as text). */
function daySpan(
  state: BatchStatusDoc,
  added: { firstDay: string | null; lastDay: string | null },
): { firstDay: string | null; lastDay: string | null } {
  let firstDay = state.firstDay ?? null;
  let lastDay = state.lastDay ?? null;
  if (added.firstDay !== null && (firstDay === null || added.firstDay < firstDay)) firstDay = added.firstDay;
  if (added.lastDay !== null && (lastDay === null || added.lastDay > lastDay)) lastDay = added.lastDay;
  return { firstDay, lastDay };
}

/** The events some effects add (negative when they withdraw more). */
const countedBy = (effects: readonly Effect[]): number =>
  effects.reduce((sum, { sign, events }) => sum + sign * events, 0);

/**
 * The batch's state after one more record and what it changes in the counts (see corrections): a
 * pure function, so replaying the log rebuilds it. An erasure lowers `totalEvents` by the events it
 * took out of the batch, and `processedEvents` by those of them that had been counted.
 */
export function evolveBatchStatus(
  state: BatchStatusDoc | null,
  record: AnyLogRecord,
  effects: readonly Effect[],
): BatchStatusDoc | null {
  const at = record.metadata.recordedAt;
  const position = record.position;
  if (record.type === 'BatchUploaded') {
    if (state !== null) return null;
    const { batchId, fileName, newEvents } = record.data;
    // A batch with no new events has nothing to count: it is completed at once, never left waiting.
    const nothingToCount = newEvents === 0;
    return {
      _id: batchId,
      batchId,
      fileName,
      totalEvents: newEvents,
      processedEvents: 0,
      status: nothingToCount ? 'completed' : 'uploaded',
      uploadedAt: at,
      processedAt: nothingToCount ? at : null,
      failedReason: null,
      uploadedPosition: position,
      lastPosition: position,
      firstDay: null,
      lastDay: null,
      processingStartedAt: null,
      countedPosition: null,
    };
  }
  if (state === null) return null;
  if (record.type === 'BatchRetracted') {
    if (state.status === 'retracted') return null;
    return {
      ...state,
      status: 'retracted',
      retractedAt: at,
      retractionReason: record.data.reason,
      lastPosition: position,
    };
  }
  // A retracted batch stays so: whatever its jobs still record counts nowhere.
  if (state.status === 'retracted') return { ...state, lastPosition: position };
  switch (record.type) {
    case 'BatchProcessingStarted':
      if (state.status === 'completed') return { ...state, lastPosition: position };
      return state.processedEvents >= state.totalEvents
        ? { ...state, status: 'completed', processedAt: at, failedReason: null, lastPosition: position }
        : {
            ...state,
            status: 'processing',
            failedReason: null,
            processingStartedAt: at,
            lastPosition: position,
          };
    case 'EventsProcessed': {
      const processedEvents = state.processedEvents + countedBy(effects);
      const days = { ...daySpan(state, record.data), countedPosition: position };
      return processedEvents >= state.totalEvents
        ? {
            ...state,
            ...days,
            processedEvents,
            status: 'completed',
            processedAt: at,
            failedReason: null,
            lastPosition: position,
          }
        : { ...state, ...days, processedEvents, lastPosition: position };
    }
    case 'UserErased': {
      const next = {
        ...state,
        totalEvents: state.totalEvents - eventsErasedBy(record),
        processedEvents: state.processedEvents + countedBy(effects),
        lastPosition: position,
      };
      return next.status === 'processing' && next.processedEvents >= next.totalEvents
        ? { ...next, status: 'completed', processedAt: at, failedReason: null }
        : next;
    }
    case 'BatchProcessingFailed':
      if (state.status === 'completed') return { ...state, lastPosition: position };
      return {
        ...state,
        status: 'failed',
        failedReason: publicFailureReason(record.data.chunk),
        lastPosition: position,
      };
  }
}

export function batchIdOf(record: AnyLogRecord): string {
  return record.data.batchId;
}

/** The page's records of each batch, in position order. */
function groupByBatch(page: readonly CountedRecord[]): Map<string, CountedRecord[]> {
  const byBatch = new Map<string, CountedRecord[]>();
  for (const counted of page) {
    const batchId = batchIdOf(counted.record);
    const list = byBatch.get(batchId);
    if (list === undefined) byBatch.set(batchId, [counted]);
    else list.push(counted);
  }
  return byBatch;
}

/** Folds the records after the document's `lastPosition` into it; null when nothing changes. */
/**
 * The log line for a batch that this write completes or fails, once: the write is planned only
 * from records after the stored document's position, so a replayed page reports nothing again.
 */
function settledReport(
  current: BatchStatusDoc | null,
  next: BatchStatusDoc,
  lastRecordAt: Date,
): { message: string; fields: Record<string, unknown> } | undefined {
  if (next.status !== 'completed' && next.status !== 'failed') return undefined;
  if (current?.status === next.status) return undefined;
  const endedAt = next.status === 'completed' ? (next.processedAt ?? lastRecordAt) : lastRecordAt;
  const started = next.processingStartedAt ?? null;
  return {
    message: next.status === 'completed' ? 'batch completed' : 'batch failed',
    fields: {
      batchId: next.batchId,
      fileName: next.fileName,
      totalEvents: next.totalEvents,
      processedEvents: next.processedEvents,
      firstDay: next.firstDay ?? null,
      lastDay: next.lastDay ?? null,
      // From the start of its latest processing round; 0 for a batch with nothing to process.
      durationMs: started === null ? 0 : endedAt.getTime() - started.getTime(),
      ...(next.status === 'failed' ? { failedReason: next.failedReason } : {}),
    },
  };
}

/** About the bytes a status document holds in memory (a file name and a reason are short). */
const BATCH_DOC_BYTES = 1024;

function isBatchStatusDoc(doc: PositionedDoc): doc is BatchStatusDoc {
  return 'batchId' in doc && 'status' in doc;
}

function foldPending(current: BatchStatusDoc | null, page: readonly CountedRecord[]): BatchStatusDoc | null {
  let state = current;
  for (const { record, effects } of page) {
    if (state !== null && state.lastPosition >= record.position) continue;
    state = evolveBatchStatus(state, record, effects) ?? state;
  }
  return state === current ? null : state;
}

/**
 * One read (unless the memory knows it) and one write per batch per page: the page's records folded
 * into the stored document, replaced only if its `lastPosition` is still the one read. The batches
 * a page is the first to write (a page of posts, a rebuild) are inserted together (see writesOf).
 */
export const batchStatusProjection: Projection = {
  name: 'batchStatus',

  async ensureIndexes(db: Db, collectionName: string) {
    await db
      .collection<BatchStatusDoc>(collectionName)
      .createIndex({ uploadedPosition: -1 }, { name: 'uploadedPosition' }, undefined);
  },

  async planPage(db, collectionName, page, report, memory): Promise<Write[]> {
    const collection = db.collection<BatchStatusDoc>(collectionName);
    const byBatch = groupByBatch(page);
    if (byBatch.size === 0) return [];
    const { known: stored, unknown } = recallFrom(memory, byBatch.keys(), isBatchStatusDoc);
    // One primary-key read per batch (an `$in` would make FerretDB scan the collection).
    for (const doc of await Promise.all(unknown.map((_id) => collection.findOne({ _id })))) {
      if (doc !== null) stored.set(doc._id, { doc, fromMemory: false });
    }

    const planned: Planned<BatchStatusDoc>[] = [];
    for (const [_id, batchRecords] of byBatch) {
      const current = stored.get(_id) ?? { doc: null, fromMemory: false };
      const next = foldPending(current.doc, batchRecords);
      if (next === null) continue;
      const lastRecord = batchRecords.at(-1);
      const settled =
        report === undefined || lastRecord === undefined
          ? undefined
          : settledReport(current.doc, next, lastRecord.record.metadata.recordedAt);
      planned.push({
        stored: current,
        next,
        bytes: BATCH_DOC_BYTES,
        landed:
          settled === undefined || report === undefined
            ? undefined
            : () => {
                report(settled.message, settled.fields);
              },
      });
    }
    return writesOf(collection, planned, memory);
  },
};
