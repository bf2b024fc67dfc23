import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';

/**
 * Raw events: immutable facts written once by the UploadBatch command. `_id` is the idempotency
 * key, so the primary key itself is the dedupe index and a second insert of the same event is a
 * duplicate-key error. A batch's events count (and may be processed) only once the event log
 * holds `BatchUploaded:<batchId>`.
 */

export const RAW_EVENTS_COLLECTION = 'raw_events';

export interface RawEvent {
  _id: string;
  /** The upload that stored it (its claim tells whether the event is final). */
  batchId: string;
  userId: string;
  eventType: string;
  timestamp: Date;
  metadata: Record<string, unknown>;
}

/**
 * SHA-256 (hex) of JSON.stringify([userId, eventType, utcMillis]): the JSON array keeps the parts
 * apart whatever characters they hold, and UTC milliseconds make every offset of one instant equal.
 */
export function eventKey(userId: string, eventType: string, utcMillis: number): string {
  return createHash('sha256')
    .update(JSON.stringify([userId, eventType, utcMillis]))
    .digest('hex');
}

export function rawEventsCollection(db: Db): Collection<RawEvent> {
  return db.collection<RawEvent>(RAW_EVENTS_COLLECTION);
}

export async function ensureRawEventIndexes(db: Db): Promise<void> {
  // The collection of an abandoned upload and the finishing of a dead one read and delete by
  // batchId; FerretDB pushes string equality down to PostgreSQL, which uses this index.
  await rawEventsCollection(db).createIndex({ batchId: 1 }, { name: 'batch' }, undefined);
  // Erasing a user reads that user's events and no other's (EraseUser); their batches come with them.
  await rawEventsCollection(db).createIndex({ userId: 1, batchId: 1 }, { name: 'user_batch' }, undefined);
}
