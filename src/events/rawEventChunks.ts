import type { Db } from 'mongodb';
import { z } from 'zod';

/**
 * The processing side's view of raw events (written by the upload command, see contracts): a
 * batch's events in `_id` order, cut into chunks of a fixed size. Raw events never change once
 * `BatchUploaded` is in the log, so the same size always gives the same chunks.
 */

export const RAW_EVENTS_COLLECTION = 'raw_events';

export interface ChunkBounds {
  chunk: number;
  /** `_id` of the chunk's first and last event (inclusive). */
  firstId: string;
  lastId: string;
  size: number;
}

interface IdOnly {
  _id: string;
}

/** Pages through the batch's keys once (ids only) and returns every chunk's bounds, in order. */
export async function planChunks(db: Db, batchId: string, eventsPerChunk: number): Promise<ChunkBounds[]> {
  const cursor = db
    .collection<IdOnly>(RAW_EVENTS_COLLECTION)
    .find({ batchId }, { projection: { _id: 1 }, sort: { _id: 1 }, batchSize: 5000 });
  const chunks: ChunkBounds[] = [];
  let current: ChunkBounds | undefined;
  for await (const doc of cursor) {
    if (current === undefined || current.size === eventsPerChunk) {
      current = { chunk: chunks.length, firstId: doc._id, lastId: doc._id, size: 0 };
      chunks.push(current);
    }
    current.lastId = doc._id;
    current.size += 1;
  }
  return chunks;
}

/** The fields a chunk job needs; anything else in the document is ignored. */
export const RawEventForCounting = z.object({
  _id: z.string(),
  eventType: z.string().min(1),
  timestamp: z.date(),
});
export type RawEventForCounting = z.infer<typeof RawEventForCounting>;

/** The chunk's stored documents, unvalidated: the caller decides what a bad document means. */
export function readChunkDocuments(db: Db, batchId: string, bounds: { firstId: string; lastId: string }) {
  return db
    .collection<IdOnly>(RAW_EVENTS_COLLECTION)
    .find(
      { batchId, _id: { $gte: bounds.firstId, $lte: bounds.lastId } },
      { projection: { _id: 1, eventType: 1, timestamp: 1 }, sort: { _id: 1 } },
    )
    .toArray() as Promise<unknown[]>;
}

export function utcDate(timestamp: Date): string {
  return timestamp.toISOString().slice(0, 10);
}

/** Counts per (UTC date, eventType), sorted so equal inputs give equal records. */
export function countByDayAndType(
  events: readonly { eventType: string; timestamp: Date }[],
): { date: string; eventType: string; count: number }[] {
  const counts = new Map<string, { date: string; eventType: string; count: number }>();
  for (const event of events) {
    const date = utcDate(event.timestamp);
    const key = JSON.stringify([date, event.eventType]);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { date, eventType: event.eventType, count: 1 });
    else entry.count += 1;
  }
  return [...counts.values()].sort((a, b) =>
    a.date === b.date ? compare(a.eventType, b.eventType) : compare(a.date, b.date),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
