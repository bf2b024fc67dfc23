import type { Db } from 'mongodb';
import { z } from 'zod';
import { RAW_EVENTS_COLLECTION } from './rawEvents';

/**
 * The processing side's view of raw events (written by the upload command, see contracts): a
 * batch's events in `_id` order, cut into chunks of a fixed size. Raw events never change once
 * `BatchUploaded` is in the log, so the same size always gives the same chunks.
 *
 * Planning reads the batch once and gives each chunk what counting needs (eventType and UTC
 * milliseconds per event), so a chunk job does not query the events again: on FerretDB every such
 * query scans the whole collection, which made a 25,000-event batch take minutes.
 */

/** [eventType, UTC milliseconds], or null for a stored document that cannot be counted. */
export const CountableEvent = z.union([z.tuple([z.string().min(1), z.number().int()]), z.null()]);
export type CountableEvent = z.infer<typeof CountableEvent>;

export interface Chunk {
  chunk: number;
  /** `_id` of the chunk's first and last event (inclusive), for people reading a job. */
  firstId: string;
  lastId: string;
  events: CountableEvent[];
}

/** The fields counting needs; anything else in the document is ignored. */
export const RawEventForCounting = z.object({
  _id: z.string(),
  eventType: z.string().min(1),
  timestamp: z.date(),
});

export function toCountable(doc: unknown): CountableEvent {
  const parsed = RawEventForCounting.safeParse(doc);
  if (!parsed.success || Number.isNaN(parsed.data.timestamp.getTime())) return null;
  return [parsed.data.eventType, parsed.data.timestamp.getTime()];
}

/** Pages through the batch once, in key order, and returns every chunk in order. */
export async function planChunks(db: Db, batchId: string, eventsPerChunk: number): Promise<Chunk[]> {
  const cursor = db
    .collection<{ _id: string }>(RAW_EVENTS_COLLECTION)
    .find(
      { batchId },
      { projection: { _id: 1, eventType: 1, timestamp: 1 }, sort: { _id: 1 }, batchSize: 5000 },
    );
  const chunks: Chunk[] = [];
  let current: Chunk | undefined;
  for await (const doc of cursor) {
    if (current === undefined || current.events.length === eventsPerChunk) {
      current = { chunk: chunks.length, firstId: doc._id, lastId: doc._id, events: [] };
      chunks.push(current);
    }
    current.lastId = doc._id;
    current.events.push(toCountable(doc));
  }
  return chunks;
}

export function utcDate(timestamp: Date): string {
  return timestamp.toISOString().slice(0, 10);
}

/** Counts per (UTC date, eventType), sorted so equal inputs give equal records. */
export function countByDayAndType(
  events: readonly (readonly [eventType: string, utcMillis: number])[],
): { date: string; eventType: string; count: number }[] {
  const counts = new Map<string, { date: string; eventType: string; count: number }>();
  for (const [eventType, millis] of events) {
    const date = utcDate(new Date(millis));
    const key = JSON.stringify([date, eventType]);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { date, eventType, count: 1 });
    else entry.count += 1;
  }
  return [...counts.values()].sort((a, b) =>
    a.date === b.date ? compare(a.eventType, b.eventType) : compare(a.date, b.date),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
