import type { Queue } from 'bullmq';
import type { Collection, Db } from 'mongodb';
import { chunkJobId, type ChunkJobData } from '../chunkJobs';
import { batchKeys, correctionsStream } from '../events/batchHistory';
import type { EventLog } from '../events/eventLog';
import { rawEventChunks } from '../events/rawEventChunks';
import { deleteRawEventsOf, rawEventsCollection } from '../events/rawEvents';
import { isDuplicateKey } from '../mongo';

/**
 * Retractions under way and done. The document is written before BatchRetracted is appended, so a
 * crash anywhere leaves something the sweep finishes: the append (idempotent) and the cleanup of
 * what the batch stored. `cleanedAt` says its raw events are gone; until then uploads that met
 * its events as duplicates wait (they are about to be deleted) and insert them again after.
 */

export const BATCH_RETRACTIONS_COLLECTION = 'batch_retractions';

export interface RetractionDoc {
  _id: string;
  reason: string;
  correlationId: string;
  requestedAt: Date;
  /**
   * Renewed by whoever cleans up, so that nobody takes it for stopped and deletes beside it (FerretDB
   * deletes the ids it selected first: a late second deletion could remove events inserted again).
   */
  heartbeatAt?: Date;
  cleanedAt?: Date;
}

export function batchRetractions(db: Db): Collection<RetractionDoc> {
  return db.collection<RetractionDoc>(BATCH_RETRACTIONS_COLLECTION);
}

/** Records the request; false when the batch's retraction was recorded before (this call did not). */
export async function recordRetraction(
  db: Db,
  doc: Omit<RetractionDoc, 'requestedAt' | 'heartbeatAt'>,
): Promise<boolean> {
  const now = new Date();
  try {
    await batchRetractions(db).insertOne({ ...doc, requestedAt: now, heartbeatAt: now });
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/** Appends BatchRetracted unless it is in the log; the record that stands is returned. */
export async function appendBatchRetracted(eventLog: EventLog, doc: RetractionDoc) {
  const { record, appended } = await eventLog.append({
    type: 'BatchRetracted',
    key: batchKeys.retracted(doc._id),
    streamId: correctionsStream(doc._id),
    data: { batchId: doc._id, reason: doc.reason },
    correlationId: doc.correlationId,
  });
  return { record, appended };
}

export interface CleanupDeps {
  db: Db;
  queue: Queue<ChunkJobData>;
  /** Renewal period of the heartbeat while cleaning. */
  heartbeatMs: number;
}

/** Job states a job can be removed in; an active one finishes by itself (the worker skips it). */
const REMOVABLE = new Set(['waiting', 'delayed', 'failed', 'prioritized', 'waiting-children', 'completed']);
const JOB_LOOKUPS_AT_ONCE = 50;

async function removeChunkJobs(queue: Queue<ChunkJobData>, batchId: string, chunks: number): Promise<void> {
  for (let start = 0; start < chunks; start += JOB_LOOKUPS_AT_ONCE) {
    const ids = Array.from({ length: Math.min(JOB_LOOKUPS_AT_ONCE, chunks - start) }, (_, i) =>
      chunkJobId(batchId, start + i),
    );
    await Promise.all(
      ids.map(async (id) => {
        const job = await queue.getJob(id);
        if (job === undefined || !REMOVABLE.has(await job.getState())) return;
        // Taken by a worker meanwhile: it appends nothing for a retracted batch.
        await job.remove().catch(() => undefined);
      }),
    );
  }
}

/**
 * Removes the batch's queued and failed chunk jobs, its chunk documents and raw events, then marks
 * the retraction cleaned. Idempotent; bounded by the batch's chunks. Jobs go first: the chunk
 * documents tell how many there are.
 */
export async function cleanUpRetraction(deps: CleanupDeps, batchId: string): Promise<void> {
  const retractions = batchRetractions(deps.db);
  const touch = (): Promise<unknown> =>
    retractions.updateOne({ _id: batchId }, { $set: { heartbeatAt: new Date() } });
  await touch();
  const renewal = setInterval(() => {
    touch().catch(() => undefined);
  }, deps.heartbeatMs);
  try {
    const chunkDocs = rawEventChunks(deps.db);
    const chunks = await chunkDocs.countDocuments({ batchId });
    await removeChunkJobs(deps.queue, batchId, chunks);
    await chunkDocs.deleteMany({ batchId });
    await deleteRawEventsOf(rawEventsCollection(deps.db), { batchId });
  } finally {
    clearInterval(renewal);
  }
  await retractions.updateOne({ _id: batchId }, { $set: { cleanedAt: new Date() } });
}

/**
 * A retraction cleaned this recently may have deleted the duplicates an insert just met (as a
 * collected claim may, see batchClaims): it is watched, and its events are inserted again.
 */
const RETRACTION_WATCH_MS = 10 * 60 * 1000;

/** Retractions not cleaned yet, or cleaned so recently that an insert may just have met their events. */
export async function unsettledRetractions(db: Db, now: number): Promise<RetractionDoc[]> {
  return batchRetractions(db)
    .find({
      $or: [{ cleanedAt: { $exists: false } }, { cleanedAt: { $gt: new Date(now - RETRACTION_WATCH_MS) } }],
    })
    .toArray();
}

export interface RetractionState {
  /** Its raw events are gone. */
  cleaned: boolean;
  /** When whoever cleans up last showed life (or when it was requested). */
  lastBeat: Date;
}

/** Which of `batchIds` are being retracted, whether each one's events are gone yet, and its last beat. */
export async function retractionStates(
  db: Db,
  batchIds: ReadonlySet<string>,
): Promise<Map<string, RetractionState>> {
  const docs = await batchRetractions(db)
    .find({ _id: { $in: [...batchIds] } })
    .toArray();
  return new Map(
    docs.map((d) => [
      d._id,
      { cleaned: d.cleanedAt !== undefined, lastBeat: d.heartbeatAt ?? d.requestedAt },
    ]),
  );
}
