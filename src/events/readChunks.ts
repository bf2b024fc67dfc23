import type { Db } from 'mongodb';
import { eventsOf } from './chunkCodec';
import { rawEventChunks, type CountableEvent } from './rawEventChunks';

/** A chunk's events as read, and the revision of its document (see RawEventChunk.revision). */
export interface ReadChunk {
  events: CountableEvent[];
  revision: number;
}

/** One chunk's events (null for any that cannot be counted), or undefined when there is no such chunk. */
export async function readChunk(db: Db, batchId: string, chunk: number): Promise<ReadChunk | undefined> {
  const doc = await rawEventChunks(db).findOne({ _id: `${batchId}:${chunk}` });
  return doc === null ? undefined : { events: eventsOf(doc), revision: doc.revision ?? 0 };
}

/** Every chunk document, streamed by one query (verify reads them all once). */
export async function* readAllChunks(
  db: Db,
): AsyncGenerator<{ batchId: string; chunk: number; events: CountableEvent[] }> {
  for await (const doc of rawEventChunks(db).find({}, { batchSize: 100 })) {
    yield { batchId: doc.batchId, chunk: doc.chunk, events: eventsOf(doc) };
  }
}
