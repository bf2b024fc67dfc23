import { z } from 'zod';
import { ChunkDetail } from './chunkDetail';

/**
 * Every kind of record the event log holds, with the zod schema of its `data` per version.
 * Names are past tense: each record is a fact that has happened. Add a version instead of
 * changing a schema in place: records already in the log never change.
 */

const batchId = z.string().min(1).max(128);
const utcDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export const BatchUploadedV1 = z.object({
  batchId,
  fileName: z.string().max(1024),
  totalRows: z.number().int().nonnegative(),
  newEvents: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
});

/**
 * v2 records the chunk size the upload cut its chunk documents at, which fixes the chunks for
 * good. A v1 record reads as `eventsPerChunk: null`: its first processing round fixed them.
 */
export const BatchUploadedV2 = BatchUploadedV1.extend({
  eventsPerChunk: z.number().int().positive().nullable(),
});

/**
 * v3 (the first version any deployment wrote: v1 and v2 carried a per-day `counts` array that
 * FerretDB converts element by element, and are gone). The chunk's quarter-hour detail (see
 * chunkDetail) is what every read model counts from: day counts are sums of its quarter-hours.
 * `firstDay`/`lastDay` are the UTC days of its first and last event, null for a chunk of none.
 */
export const EventsProcessedV3 = z.object({
  batchId,
  chunk: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  firstDay: utcDate.nullable(),
  lastDay: utcDate.nullable(),
  detail: ChunkDetail,
});

/**
 * v4 adds the revision of the chunk document the counts were read from (0 until an erasure
 * rewrites it, see UserErased): a chunk read before an erasure may be recorded after it, and the
 * projections withdraw the erased user's part of such a record. v3 reads as revision 0.
 */
export const EventsProcessedV4 = EventsProcessedV3.extend({
  revision: z.number().int().nonnegative(),
});

/**
 * A batch was taken back: from this position on none of its events count anywhere (the
 * projections withdraw what its EventsProcessed records added, and ignore any that come later).
 * Recorded on the batch's corrections stream, once per batch.
 */
export const BatchRetractedV1 = z.object({
  batchId,
  reason: z.string().max(2000),
});

/**
 * One user's events were erased from one batch. `user` is the keyed fingerprint (16 hex digits,
 * see userFingerprint), never the userId. Per chunk of the batch that held them: the chunk
 * document's revision once the user was taken out of it, and `withdrawn`, the detail of the
 * user's events in that chunk, which the projections subtract from any EventsProcessed of the
 * chunk read at an older revision. Recorded on the batch's corrections stream, once per
 * (erasure, batch).
 */
export const UserErasedV1 = z.object({
  erasureId: z.string().min(1).max(128),
  user: z.string().regex(/^[0-9a-f]{16}$/),
  batchId,
  chunks: z.array(
    z.object({
      chunk: z.number().int().nonnegative(),
      revision: z.number().int().positive(),
      withdrawn: ChunkDetail,
    }),
  ),
});

/**
 * A processing round began. The chunk boundaries are the batch's chunk documents, cut at the size
 * BatchUploaded records. Records written before this said so carry an `eventsPerChunk` of their own,
 * which reading drops (zod strips keys a schema does not name).
 */
export const BatchProcessingStartedV1 = z.object({
  batchId,
  round: z.number().int().positive(),
  chunks: z.number().int().nonnegative(),
  totalEvents: z.number().int().nonnegative(),
});

/** A chunk exhausted its retries (or can never succeed) in the given round. */
export const BatchProcessingFailedV1 = z.object({
  batchId,
  round: z.number().int().positive(),
  chunk: z.number().int().nonnegative(),
  reason: z.string().max(2000),
});

export const recordSchemas = {
  BatchUploaded: { 1: BatchUploadedV1, 2: BatchUploadedV2 },
  EventsProcessed: { 3: EventsProcessedV3, 4: EventsProcessedV4 },
  BatchProcessingStarted: { 1: BatchProcessingStartedV1 },
  BatchProcessingFailed: { 1: BatchProcessingFailedV1 },
  BatchRetracted: { 1: BatchRetractedV1 },
  UserErased: { 1: UserErasedV1 },
} as const;

export type RecordType = keyof typeof recordSchemas;

/** The current (newest) version of each record type: what `append` writes. */
export const currentVersion = {
  BatchUploaded: 2,
  EventsProcessed: 4,
  BatchProcessingStarted: 1,
  BatchProcessingFailed: 1,
  BatchRetracted: 1,
  UserErased: 1,
} as const satisfies { [T in RecordType]: keyof (typeof recordSchemas)[T] };

/** The schema of each type's current version: what `append` validates and what readers see. */
export const currentSchemas = {
  BatchUploaded: BatchUploadedV2,
  EventsProcessed: EventsProcessedV4,
  BatchProcessingStarted: BatchProcessingStartedV1,
  BatchProcessingFailed: BatchProcessingFailedV1,
  BatchRetracted: BatchRetractedV1,
  UserErased: UserErasedV1,
} as const;

export type RecordData<T extends RecordType> = z.infer<(typeof currentSchemas)[T]>;

/**
 * Older versions of a record, read as the current one. A type with one version needs nothing;
 * a new version adds its step here, and readers only ever see the current shape.
 */
export function upcast(type: RecordType, version: number, data: unknown): unknown {
  if (type === 'BatchUploaded' && version === 1) return { ...(data as object), eventsPerChunk: null };
  if (type === 'EventsProcessed' && version === 3) return { ...(data as object), revision: 0 };
  return data;
}

export function isRecordType(value: string): value is RecordType {
  return Object.hasOwn(recordSchemas, value);
}
