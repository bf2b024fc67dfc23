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
 * v3 (the only version any deployment has written: v1 and v2 carried a per-day `counts` array that
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
  EventsProcessed: { 3: EventsProcessedV3 },
  BatchProcessingStarted: { 1: BatchProcessingStartedV1 },
  BatchProcessingFailed: { 1: BatchProcessingFailedV1 },
} as const;

export type RecordType = keyof typeof recordSchemas;

/** The current (newest) version of each record type: what `append` writes. */
export const currentVersion = {
  BatchUploaded: 2,
  EventsProcessed: 3,
  BatchProcessingStarted: 1,
  BatchProcessingFailed: 1,
} as const satisfies { [T in RecordType]: keyof (typeof recordSchemas)[T] };

/** The schema of each type's current version: what `append` validates and what readers see. */
export const currentSchemas = {
  BatchUploaded: BatchUploadedV2,
  EventsProcessed: EventsProcessedV3,
  BatchProcessingStarted: BatchProcessingStartedV1,
  BatchProcessingFailed: BatchProcessingFailedV1,
} as const;

export type RecordData<T extends RecordType> = z.infer<(typeof currentSchemas)[T]>;

/**
 * Older versions of a record, read as the current one. A type with one version needs nothing;
 * a new version adds its step here, and readers only ever see the current shape.
 */
export function upcast(type: RecordType, version: number, data: unknown): unknown {
  if (type === 'BatchUploaded' && version === 1) return { ...(data as object), eventsPerChunk: null };
  return data;
}

export function isRecordType(value: string): value is RecordType {
  return Object.hasOwn(recordSchemas, value);
}
