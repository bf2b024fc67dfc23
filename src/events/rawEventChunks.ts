import { Binary, type Collection, type Db } from 'mongodb';
import { z } from 'zod';
import { isDuplicateKey } from '../mongo';
import { RAW_EVENTS_COLLECTION } from './rawEvents';

/**
 * A batch's new events cut into chunks for processing, one document per chunk:
 * `{_id: "<batchId>:<chunk>", batchId, chunk, count, eventTypes, typeIndexes, timestamps}`.
 * `eventTypes` lists the chunk's distinct types; per event, `typeIndexes` holds an index into it
 * (uint32 little-endian, NO_TYPE for an event that cannot be counted) and `timestamps` its UTC
 * milliseconds (float64 little-endian). Binary rather than arrays: FerretDB converts every array
 * element between BSON and its storage, which made reading a chunk of 5,000 events take 25 ms and
 * writing it 15 ms on PostgreSQL; as two binaries both take 3 ms.
 *
 * The upload command writes them while it stores the events, before BatchUploaded, so ProcessBatch
 * plans from one small document per chunk and a chunk job reads its own: nothing reads the raw
 * events back. On FerretDB a sorted read of a batch's raw events is a scan sorted in Go, which
 * took most of the processing time. Like raw events they never change once the batch committed.
 * A batch without them (stored before they existed, or in the earlier array form, which lived in
 * `raw_event_chunks`) gets them derived from its raw events once.
 */

export const RAW_EVENT_CHUNKS_COLLECTION = 'raw_event_chunks_v2';

/** [eventType, UTC milliseconds], or null for a stored document that cannot be counted. */
export type CountableEvent = [eventType: string, utcMillis: number] | null;

export interface RawEventChunk {
  _id: string;
  batchId: string;
  chunk: number;
  /** floor(chunk / CHUNKS_PER_SLICE): an undone upload's chunks are deleted a slice at a time. */
  slice: number;
  count: number;
  eventTypes: string[];
  typeIndexes: Binary;
  timestamps: Binary;
}

/** Chunk documents per delete when an upload is undone (FerretDB names every id in one statement). */
export const CHUNKS_PER_SLICE = 10_000;

/** The type index of an event that cannot be counted. */
const NO_TYPE = 0xffffffff;

/** What planning needs of a chunk. */
export interface ChunkRef {
  chunk: number;
  count: number;
}

export function rawEventChunks(db: Db): Collection<RawEventChunk> {
  return db.collection<RawEventChunk>(RAW_EVENT_CHUNKS_COLLECTION);
}

export async function ensureRawEventChunkIndexes(db: Db): Promise<void> {
  await rawEventChunks(db).createIndex({ batchId: 1, chunk: 1 }, { name: 'batch_chunk' }, undefined);
}

function chunkDoc(batchId: string, chunk: number, events: CountableEvent[]): RawEventChunk {
  const eventTypes: string[] = [];
  const indexOf = new Map<string, number>();
  const typeIndexes = Buffer.alloc(events.length * 4);
  const timestamps = Buffer.alloc(events.length * 8);
  const typeIndex = (eventType: string): number => {
    let index = indexOf.get(eventType);
    if (index === undefined) {
      index = eventTypes.push(eventType) - 1;
      indexOf.set(eventType, index);
    }
    return index;
  };
  events.forEach((event, i) => {
    typeIndexes.writeUInt32LE(event === null ? NO_TYPE : typeIndex(event[0]), i * 4);
    timestamps.writeDoubleLE(event === null ? Number.NaN : event[1], i * 8);
  });
  return {
    _id: `${batchId}:${chunk}`,
    batchId,
    chunk,
    slice: Math.floor(chunk / CHUNKS_PER_SLICE),
    count: events.length,
    eventTypes,
    typeIndexes: new Binary(typeIndexes),
    timestamps: new Binary(timestamps),
  };
}

/** The bytes of a stored binary field, or an empty buffer for anything else. */
function bytesOf(value: unknown): Buffer {
  if (!(value instanceof Binary)) return Buffer.alloc(0);
  const bytes = value.buffer.subarray(0, value.length());
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a stored chunk; an event that cannot be read is null, and a damaged document gets one more null. */
function eventsOf(doc: RawEventChunk): CountableEvent[] {
  const types: unknown[] = Array.isArray(doc.eventTypes) ? doc.eventTypes : [];
  const typeIndexes = bytesOf(doc.typeIndexes);
  const timestamps = bytesOf(doc.timestamps);
  const count = Math.floor(Math.min(typeIndexes.length / 4, timestamps.length / 8));
  const events: CountableEvent[] = [];
  for (let i = 0; i < count; i++) {
    const eventType = types[typeIndexes.readUInt32LE(i * 4)];
    const millis = timestamps.readDoubleLE(i * 8);
    const readable = typeof eventType === 'string' && eventType !== '' && Number.isSafeInteger(millis);
    events.push(readable ? [eventType, millis] : null);
  }
  // Sizes that disagree with the count mean a damaged document: one null makes the job fail.
  const whole =
    typeIndexes.length === doc.count * 4 &&
    timestamps.length === doc.count * 8 &&
    events.length === doc.count;
  return whole ? events : [...events, null];
}

/** Collects a batch's newly stored events and writes a chunk document every `eventsPerChunk`. */
export class ChunkWriter {
  private pending: CountableEvent[] = [];
  private written = 0;

  constructor(
    private readonly db: Db,
    private readonly batchId: string,
    private readonly eventsPerChunk: number,
  ) {}

  async add(events: readonly CountableEvent[]): Promise<void> {
    for (const event of events) {
      this.pending.push(event);
      if (this.pending.length === this.eventsPerChunk) await this.writeChunk();
    }
  }

  /** Writes the last, partly filled chunk; call before the batch commits. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.writeChunk();
  }

  private async writeChunk(): Promise<void> {
    const events = this.pending;
    this.pending = [];
    // Numbered before the write: `add` may be called again while this one is in flight.
    const chunk = this.written;
    this.written += 1;
    // Already there only when another call derives the same batch's chunks (deriveChunks): from
    // the same events in the same order, so theirs equal ours. An upload's batch id is new.
    await rawEventChunks(this.db)
      .insertOne(chunkDoc(this.batchId, chunk, events))
      .catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      });
  }
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

async function readChunkRefs(db: Db, batchId: string): Promise<ChunkRef[]> {
  const refs = await rawEventChunks(db)
    .find({ batchId }, { projection: { _id: 0, chunk: 1, count: 1 } })
    .toArray();
  return refs.map(({ chunk, count }) => ({ chunk, count })).sort((a, b) => a.chunk - b.chunk);
}

function holds(refs: readonly ChunkRef[], expectedEvents: number): boolean {
  return (
    refs.every((ref, i) => ref.chunk === i) &&
    refs.reduce((sum, ref) => sum + ref.count, 0) === expectedEvents
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
): Promise<ChunkRef[]> {
  const refs = await readChunkRefs(db, batchId);
  if (holds(refs, expectedEvents)) return refs;
  await deriveChunks(db, batchId, eventsPerChunk);
  const derived = await readChunkRefs(db, batchId);
  if (!holds(derived, expectedEvents)) {
    const stored = derived.reduce((sum, ref) => sum + ref.count, 0);
    throw new Error(
      `batch ${batchId}: its chunks hold ${stored} events, BatchUploaded reports ${expectedEvents}`,
    );
  }
  return derived;
}

async function deriveChunks(db: Db, batchId: string, eventsPerChunk: number): Promise<void> {
  const cursor = db
    .collection<{ _id: string }>(RAW_EVENTS_COLLECTION)
    .find(
      { batchId },
      { projection: { _id: 1, eventType: 1, timestamp: 1 }, sort: { _id: 1 }, batchSize: 5000 },
    );
  const writer = new ChunkWriter(db, batchId, eventsPerChunk);
  for await (const doc of cursor) await writer.add([toCountable(doc)]);
  await writer.flush();
}

/** One chunk's events (null for any that cannot be counted), or undefined when there is no such chunk. */
export async function readChunk(
  db: Db,
  batchId: string,
  chunk: number,
): Promise<CountableEvent[] | undefined> {
  const doc = await rawEventChunks(db).findOne({ _id: `${batchId}:${chunk}` });
  return doc === null ? undefined : eventsOf(doc);
}

/** Every chunk document, streamed by one query (verify reads them all once). */
export async function* readAllChunks(
  db: Db,
): AsyncGenerator<{ batchId: string; chunk: number; events: CountableEvent[] }> {
  for await (const doc of rawEventChunks(db).find({}, { batchSize: 100 })) {
    yield { batchId: doc.batchId, chunk: doc.chunk, events: eventsOf(doc) };
  }
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
