import { createHash } from 'node:crypto';
import type { Collection, Db, Filter } from 'mongodb';

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
  /**
   * Which group of its upload's inserts stored it (INSERT_GROUP_EVENTS events at most): what a
   * batch's events are deleted by when they are too many for one statement (deleteRawEventsOf).
   */
  insertGroup: number;
}

/** Events per insert group: under the 65,535 rows FerretDB deletes in one statement. */
export const INSERT_GROUP_EVENTS = 32_000;

/** FerretDB on PostgreSQL deletes the rows a filter selected with one parameter each. */
const TOO_MANY_TO_DELETE = /limited to 65535 parameters/;
/** Group deletes between attempts at deleting the rest at once. */
const GROUPS_PER_ATTEMPT = 2;

async function deletedAtOnce(events: Collection<RawEvent>, filter: Filter<RawEvent>): Promise<boolean> {
  try {
    await events.deleteMany(filter);
    return true;
  } catch (error) {
    if (error instanceof Error && TOO_MANY_TO_DELETE.test(error.message)) return false;
    throw error;
  }
}

/**
 * Deletes the raw events of a batch (or of one user in it), insert group by insert group (both
 * equalities are pushed down to PostgreSQL), trying the rest at once every few groups. A whole
 * batch starts with its groups: FerretDB reads every event a statement selects before it finds
 * that it cannot delete them all in one, and that read is most of a deletion's cost
 * (docs/performance.md). One user's events in a batch are few: they go at once first. MongoDB
 * takes any statement whatever its size.
 */
export async function deleteRawEventsOf(
  events: Collection<RawEvent>,
  filter: { batchId: string; userId?: string },
): Promise<void> {
  if (filter.userId !== undefined && (await deletedAtOnce(events, filter))) return;
  let emptyGroups = 0;
  for (let group = 0; ; group++) {
    const { deletedCount } = await events.deleteMany({ ...filter, insertGroup: group });
    emptyGroups = deletedCount === 0 ? emptyGroups + 1 : 0;
    if (group % GROUPS_PER_ATTEMPT !== GROUPS_PER_ATTEMPT - 1) continue;
    if (await deletedAtOnce(events, filter)) return;
    // Groups are numbered from 0 with few gaps (a group all duplicates): this many empty ones
    // in a row means the rest has no groups to go by.
    if (emptyGroups > 64)
      throw new Error(`the raw events of batch ${filter.batchId} cannot be deleted in parts`);
  }
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
