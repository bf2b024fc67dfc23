import type { Binary, Collection, Db } from 'mongodb';
import type { UserFingerprint } from './userFingerprint';

/**
 * A batch's new events cut into chunks for processing, one document per chunk:
 * `{_id: "<batchId>:<chunk>", batchId, chunk, count, eventTypes, typeIndexes, timestamps}`.
 * `eventTypes` lists the chunk's distinct types; per event, `typeIndexes` holds an index into it
 * (uint32 little-endian, NO_TYPE for an event that cannot be counted) and `timestamps` its UTC
 * milliseconds (float64 little-endian), and `users` the fingerprint of its userId (8 bytes). Binary rather than arrays: FerretDB converts every array
 * element between BSON and its storage (layouts in docs/design.md, costs in docs/performance.md).
 *
 * The upload command writes them while it stores the events, before BatchUploaded, so ProcessBatch
 * plans from one small document per chunk and a chunk job reads its own: nothing reads the raw
 * events back. On FerretDB a sorted read of a batch's raw events is a scan sorted in Go, which
 * took most of the processing time. Like raw events they never change once the batch committed.
 * A batch without them (stored before they existed, or in the earlier array form, which lived in
 * `raw_event_chunks`) gets them derived from its raw events once.
 */

export const RAW_EVENT_CHUNKS_COLLECTION = 'raw_event_chunks_v2';

/**
 * [eventType, UTC milliseconds, user fingerprint], or null for a stored document that cannot be
 * counted. The fingerprint is missing for chunks written before chunk documents kept users.
 */
export type CountableEvent = [eventType: string, utcMillis: number, user?: UserFingerprint] | null;

export interface RawEventChunk {
  _id: string;
  batchId: string;
  chunk: number;
  count: number;
  eventTypes: string[];
  typeIndexes: Binary;
  timestamps: Binary;
  /** Per event its user's fingerprint (uint64 big-endian); absent in chunks written before it existed. */
  users?: Binary;
  /**
   * Bumped each time an erasure takes a user's events out of the document (absent means 0): an
   * EventsProcessed records the revision it read, and UserErased the one its erasure wrote.
   */
  revision?: number;
  /** Events erasures took out of the document (absent means 0): planning counts them as BatchUploaded did. */
  erased?: number;
}

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
