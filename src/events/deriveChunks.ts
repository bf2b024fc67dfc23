import type { Db } from 'mongodb';
import { z } from 'zod';
import { ChunkWriter } from './chunkWriter';
import { rawEventChunks, type ChunkRef, type CountableEvent } from './rawEventChunks';
import { RAW_EVENTS_COLLECTION } from './rawEvents';
import type { FingerprintOf } from './userFingerprint';

/**
 * Planning a batch's chunks, and deriving them from its raw events for a batch stored before
 * the upload wrote chunk documents (the legacy path; nothing else reads raw events back).
 */

/** The fields counting needs; anything else in the document is ignored. */
export const RawEventForCounting = z.object({
  _id: z.string(),
  userId: z.string(),
  eventType: z.string().min(1),
  timestamp: z.date(),
});

export function toCountable(doc: unknown, fingerprintOf: FingerprintOf): CountableEvent {
  const parsed = RawEventForCounting.safeParse(doc);
  if (!parsed.success || Number.isNaN(parsed.data.timestamp.getTime())) return null;
  return [parsed.data.eventType, parsed.data.timestamp.getTime(), fingerprintOf(parsed.data.userId)];
}

/** Planning's view of a chunk: its size now, and what erasures took out of it. */
type PlannedChunk = ChunkRef & { erased: number };

async function readChunkRefs(db: Db, batchId: string): Promise<PlannedChunk[]> {
  const refs = await rawEventChunks(db)
    .find({ batchId }, { projection: { _id: 0, chunk: 1, count: 1, erased: 1 } })
    .toArray();
  return refs
    .map(({ chunk, count, erased }) => ({ chunk, count, erased: erased ?? 0 }))
    .sort((a, b) => a.chunk - b.chunk);
}

/** Whether the chunks hold what BatchUploaded reports, counting the events erasures took out. */
function holds(refs: readonly PlannedChunk[], expectedEvents: number): boolean {
  return (
    refs.every((ref, i) => ref.chunk === i) &&
    refs.reduce((sum, ref) => sum + ref.count + ref.erased, 0) === expectedEvents
  );
}

/**
 * The batch's chunks in order. When they do not hold the `expectedEvents` that BatchUploaded
 * reports (a batch stored before chunk documents existed), they are derived from the raw events
 * first, in key order, so repeated or concurrent calls derive the same documents.
 */
export async function planChunks(
  db: Db,
  batchId: string,
  expectedEvents: number,
  eventsPerChunk: number,
  fingerprintOf: FingerprintOf,
): Promise<ChunkRef[]> {
  const refs = await readChunkRefs(db, batchId);
  if (holds(refs, expectedEvents)) return refs;
  await deriveChunks(db, batchId, eventsPerChunk, fingerprintOf);
  const derived = await readChunkRefs(db, batchId);
  if (!holds(derived, expectedEvents)) {
    const stored = derived.reduce((sum, ref) => sum + ref.count, 0);
    throw new Error(
      `batch ${batchId}: its chunks hold ${stored} events, BatchUploaded reports ${expectedEvents}`,
    );
  }
  return derived;
}

/**
 * Writes a batch's chunk documents afresh from its raw events (an upload whose holder died after
 * its events were final, with chunks it may have written only in part); returns how many events.
 */
export async function rebuildChunks(
  db: Db,
  batchId: string,
  eventsPerChunk: number,
  fingerprintOf: FingerprintOf,
): Promise<number> {
  await rawEventChunks(db).deleteMany({ batchId });
  return deriveChunks(db, batchId, eventsPerChunk, fingerprintOf);
}

async function deriveChunks(
  db: Db,
  batchId: string,
  eventsPerChunk: number,
  fingerprintOf: FingerprintOf,
): Promise<number> {
  const cursor = db
    .collection<{ _id: string }>(RAW_EVENTS_COLLECTION)
    .find(
      { batchId },
      { projection: { _id: 1, userId: 1, eventType: 1, timestamp: 1 }, sort: { _id: 1 }, batchSize: 5000 },
    );
  const writer = new ChunkWriter(db, batchId, eventsPerChunk);
  let events = 0;
  for await (const doc of cursor) {
    events += 1;
    await writer.add([toCountable(doc, fingerprintOf)]);
  }
  await writer.flush();
  return events;
}
