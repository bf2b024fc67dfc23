import { Binary } from 'mongodb';
import { bytesOfBinary } from '../mongo';
import type { CountableEvent, RawEventChunk } from './rawEventChunks';

/** How a chunk document holds its events (see rawEventChunks): encoding and decoding only. */

/** The type index of an event that cannot be counted. */
const NO_TYPE = 0xffffffff;

export function chunkDoc(batchId: string, chunk: number, events: CountableEvent[]): RawEventChunk {
  const eventTypes: string[] = [];
  const indexOf = new Map<string, number>();
  const typeIndexes = Buffer.alloc(events.length * 4);
  const timestamps = Buffer.alloc(events.length * 8);
  // Users are kept only when every event has one (an event that cannot be counted has none).
  const users = events.every((e) => e === null || e[2] !== undefined)
    ? Buffer.alloc(events.length * 8)
    : null;
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
    users?.writeBigUInt64BE(event?.[2] ?? 0n, i * 8);
  });
  return {
    _id: `${batchId}:${chunk}`,
    batchId,
    chunk,
    count: events.length,
    eventTypes,
    typeIndexes: new Binary(typeIndexes),
    timestamps: new Binary(timestamps),
    ...(users === null ? {} : { users: new Binary(users) }),
  };
}

/** A decoder of a stored chunk's entries: the event at an index, null when it cannot be read. */
function entryReader(doc: RawEventChunk): {
  count: number;
  /** Whether every column holds exactly the document's `count` entries. */
  whole: boolean;
  eventAt: (i: number) => CountableEvent;
} {
  const types: unknown[] = Array.isArray(doc.eventTypes) ? doc.eventTypes : [];
  const typeIndexes = bytesOfBinary(doc.typeIndexes);
  const timestamps = bytesOfBinary(doc.timestamps);
  const users = doc.users === undefined ? null : bytesOfBinary(doc.users);
  return {
    count: Math.floor(Math.min(typeIndexes.length / 4, timestamps.length / 8)),
    whole:
      typeIndexes.length === doc.count * 4 &&
      timestamps.length === doc.count * 8 &&
      (users === null || users.length === doc.count * 8),
    eventAt: (i) => {
      const eventType = types[typeIndexes.readUInt32LE(i * 4)];
      const millis = timestamps.readDoubleLE(i * 8);
      const readable = typeof eventType === 'string' && eventType !== '' && Number.isSafeInteger(millis);
      if (!readable) return null;
      if (users === null) return [eventType, millis];
      return users.length >= (i + 1) * 8 ? [eventType, millis, users.readBigUInt64BE(i * 8)] : null;
    },
  };
}

/** Decodes a stored chunk; an event that cannot be read is null, and a damaged document gets one more null. */
export function eventsOf(doc: RawEventChunk): CountableEvent[] {
  const { count, whole, eventAt } = entryReader(doc);
  const events: CountableEvent[] = [];
  for (let i = 0; i < count; i++) events.push(eventAt(i));
  // Sizes that disagree with the count mean a damaged document: one null makes the job fail.
  return whole && events.length === doc.count ? events : [...events, null];
}

/** The events at some of a chunk's indexes (an index past its entries reads as null). */
export function eventsAt(doc: RawEventChunk, indexes: Iterable<number>): CountableEvent[] {
  const { count, eventAt } = entryReader(doc);
  return [...indexes].map((i) => (i < count ? eventAt(i) : null));
}
