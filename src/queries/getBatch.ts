import type { Db } from 'mongodb';
import { NotFoundError } from '../errors';
import { mayBeBatchId } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import { CorrectionsFold, readBatchRecords } from '../events/corrections';
import { evolveBatchStatus, shownFailureReason, type BatchStatusDoc } from '../projections/batchStatus';
import { liveCollection, type ProjectionName } from '../projections/readModels';
import { readLivePositions } from './projectionLag';

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
  /** Taken back (POST /api/batches/:id/retract): its events count nowhere. */
  retracted: boolean;
  retractedAt: string | null;
  retractionReason: string | null;
  /** Read models that do not hold all of the batch's counts yet: it reads `processing` until they do. */
  catchingUp?: CountingReadModel[];
}

/** The read models that a batch's counts go to, besides its own status. */
const COUNTING_READ_MODELS = ['dailyMetrics', 'metricSeries'] as const satisfies readonly ProjectionName[];
export type CountingReadModel = (typeof COUNTING_READ_MODELS)[number];

export type LivePositions = ReadonlyMap<ProjectionName, number>;

/** A completed batch waits for the other read models only once its counting is done. */
function waitsForReadModels(doc: BatchStatusDoc): doc is BatchStatusDoc & { countedPosition: number } {
  return doc.status === 'completed' && typeof doc.countedPosition === 'number';
}

export function readCountingPositions(db: Db): Promise<LivePositions> {
  return readLivePositions(db, COUNTING_READ_MODELS);
}

/** The live positions, read only when one of `docs` needs them (a completed batch). */
export async function positionsFor(db: Db, docs: readonly BatchStatusDoc[]): Promise<LivePositions> {
  return docs.some(waitsForReadModels) ? readCountingPositions(db) : new Map();
}

/**
 * `completed` is final: the batch status read model may reach a batch's last EventsProcessed record
 * before the metric read models do, and a client that waits for `completed` then reads metrics.
 */
function behind(doc: BatchStatusDoc, positions: LivePositions): CountingReadModel[] {
  if (!waitsForReadModels(doc)) return [];
  return COUNTING_READ_MODELS.filter((name) => (positions.get(name) ?? 0) < doc.countedPosition);
}

export function toBatchStatus(doc: BatchStatusDoc, positions: LivePositions = new Map()): BatchStatus {
  const catchingUp = behind(doc, positions);
  if (catchingUp.length > 0) {
    return { ...shown(doc), status: 'processing', processedAt: null, catchingUp };
  }
  return shown(doc);
}

function shown(doc: BatchStatusDoc): BatchStatus {
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
    retracted: doc.status === 'retracted',
    retractedAt: doc.retractedAt?.toISOString() ?? null,
    retractionReason: doc.retractionReason ?? null,
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
    if (doc !== null) return toBatchStatus(doc, await positionsFor(deps.db, [doc]));
    // Its BatchUploaded comes first: without one, the fold stays null and the batch is not found.
    const fold = new CorrectionsFold();
    let state: BatchStatusDoc | null = null;
    for (const record of await readBatchRecords(deps.eventLog, batchId))
      state = evolveBatchStatus(state, record, fold.next(record)) ?? state;
    if (state === null) throw new NotFoundError(`Batch ${batchId} not found`);
    return toBatchStatus(state, await positionsFor(deps.db, [state]));
  };
}

export type GetBatch = ReturnType<typeof createGetBatch>;
