import type { Collection, Db } from 'mongodb';
import { insertUnordered } from '../../mongo';
import { dayCountsOf } from '../../events/dailyCounts';
import type { ChunkDetail } from '../../events/chunkDetail';
import { byCodeUnits } from '../../events/codeUnitOrder';

/**
 * One document per erasure request, written before anything is removed, so that a crash at any
 * point leaves something the sweep (erasureSweep.ts) finishes. The userId is kept only while the
 * erasure runs (the user's raw events, which hold it too, are still there then): the sweep needs it
 * to find them. Marking it done removes it.
 *
 * Its plan is in documents of its own, so an erasure has no size limit: one per chunk taken out
 * (user_erasure_chunks), recording what the user had there before the chunk document was
 * rewritten (a chunk that no longer holds the user's fingerprint was rewritten, since chunk
 * documents never gain events, and the item says by what), and one per batch finished
 * (user_erasure_batches).
 */

export const USER_ERASURES_COLLECTION = 'user_erasures';
export const USER_ERASURE_CHUNKS_COLLECTION = 'user_erasure_chunks';
export const USER_ERASURE_BATCHES_COLLECTION = 'user_erasure_batches';

export interface PlanItem {
  batchId: string;
  chunk: number;
  /** The chunk document's revision the erasure rewrote (it wrote fromRevision + 1). */
  fromRevision: number;
  /** The user's countable events in that chunk. */
  withdrawn: ChunkDetail;
  events: number;
}

/** A plan item as stored: `_id` is `<erasureId>:<batchId>:<chunk>`. */
export interface PlanItemDoc extends PlanItem {
  _id: string;
  erasureId: string;
}

/** A batch the erasure finished (its UserErased appended, the user's raw events deleted). */
export interface ErasedBatchDoc {
  /** `<erasureId>:<batchId>` */
  _id: string;
  erasureId: string;
  batchId: string;
  /** The events its plan items took out. */
  events: number;
}

export interface ErasureSummary {
  eventsRemoved: number;
  batches: number;
  /** UTC dates that had events of the user. */
  days: string[];
  /** The first SUMMARY_TYPES_LISTED of the user's event types, in code-unit order. */
  eventTypes: string[];
  /** How many more there were (absent when all are listed). */
  eventTypesNotListed?: number;
}

/**
 * Event types a summary lists at most: a user's types are otherwise unbounded (tens of thousands
 * of long ones would make the erasure document too big to be marked done).
 */
export const SUMMARY_TYPES_LISTED = 1000;

export interface ErasureProgress {
  batchesFound: number;
  batchesDone: number;
  eventsRemoved: number;
}

export interface ErasureDoc {
  _id: string;
  /** The user's keyed fingerprint (16 hex). */
  user: string;
  /** Present while state is 'erasing' only. */
  userId?: string;
  suppress: boolean;
  requestedAt: Date;
  state: 'erasing' | 'done';
  correlationId: string;
  /** Renewed while a process works on it; the sweep takes over an erasure whose heartbeat stopped. */
  heartbeatAt: Date;
  progress: ErasureProgress;
  summary?: ErasureSummary;
  finishedAt?: Date;
}

export function userErasures(db: Db): Collection<ErasureDoc> {
  return db.collection<ErasureDoc>(USER_ERASURES_COLLECTION);
}

export function erasurePlanItems(db: Db): Collection<PlanItemDoc> {
  return db.collection<PlanItemDoc>(USER_ERASURE_CHUNKS_COLLECTION);
}

export function erasedBatches(db: Db): Collection<ErasedBatchDoc> {
  return db.collection<ErasedBatchDoc>(USER_ERASURE_BATCHES_COLLECTION);
}

export async function ensureUserErasureIndexes(db: Db): Promise<void> {
  await userErasures(db).createIndex({ state: 1, heartbeatAt: 1 }, { name: 'state_heartbeat' }, undefined);
  await erasurePlanItems(db).createIndex({ erasureId: 1, batchId: 1 }, { name: 'erasure_batch' }, undefined);
  await erasedBatches(db).createIndex({ erasureId: 1 }, { name: 'erasure' }, undefined);
}

/**
 * Records plan items (before their chunks are rewritten); an item planned again replaces the
 * earlier one. One unordered insert for all (an upsert each took about 20 ms on FerretDB), then a
 * replace for each that was there from another revision of its chunk: one from the same revision
 * is the same item (a resumed run plans again the chunks it had not rewritten yet).
 */
export async function persistPlanItems(db: Db, erasureId: string, items: readonly PlanItem[]): Promise<void> {
  const collection = erasurePlanItems(db);
  const docs = items.map((item): PlanItemDoc => ({
    _id: `${erasureId}:${item.batchId}:${item.chunk}`,
    erasureId,
    ...item,
  }));
  const there = [...(await insertUnordered(collection, docs))].flatMap((i) => docs[i] ?? []);
  const revisions = new Map<string, number>();
  for (const batchId of new Set(there.map((doc) => doc.batchId))) {
    const stored = collection.find({ erasureId, batchId }, { projection: { _id: 1, fromRevision: 1 } });
    for await (const { _id, fromRevision } of stored) revisions.set(_id, fromRevision);
  }
  for (const doc of there) {
    if (revisions.get(doc._id) !== doc.fromRevision) await collection.replaceOne({ _id: doc._id }, doc);
  }
}

/** The plan items of one batch, by chunk. */
export async function planItemsOf(db: Db, erasureId: string, batchId: string): Promise<PlanItem[]> {
  const docs = await erasurePlanItems(db).find({ erasureId, batchId }).toArray();
  return docs.sort((a, b) => a.chunk - b.chunk);
}

/** What every plan item of the erasure took out, read as a stream. */
export async function summaryOf(
  db: Db,
  erasureId: string,
  typesListed = SUMMARY_TYPES_LISTED,
): Promise<ErasureSummary> {
  const days = new Set<string>();
  const eventTypes = new Set<string>();
  const batches = new Set<string>();
  let eventsRemoved = 0;
  const items = erasurePlanItems(db).find(
    { erasureId },
    { projection: { _id: 0, batchId: 1, withdrawn: 1, events: 1 } },
  );
  for await (const item of items) {
    batches.add(item.batchId);
    eventsRemoved += item.events;
    for (const { date, eventType } of dayCountsOf(item.withdrawn)) {
      days.add(date);
      eventTypes.add(eventType);
    }
  }
  const types = [...eventTypes].sort(byCodeUnits);
  return {
    eventsRemoved,
    batches: batches.size,
    days: [...days].sort(byCodeUnits),
    eventTypes: types.slice(0, typesListed),
    ...(types.length > typesListed ? { eventTypesNotListed: types.length - typesListed } : {}),
  };
}

/** What GET /api/users/erasures/:id answers; never the userId. */
export interface ErasureView {
  erasureId: string;
  status: ErasureDoc['state'];
  suppress: boolean;
  requestedAt: string;
  progress: ErasureProgress;
  summary?: ErasureSummary;
}

export async function readErasure(db: Db, erasureId: string): Promise<ErasureView | undefined> {
  const doc = await userErasures(db).findOne({ _id: erasureId }, { projection: { userId: 0 } });
  if (doc === null) return undefined;
  return {
    erasureId: doc._id,
    status: doc.state,
    suppress: doc.suppress,
    requestedAt: doc.requestedAt.toISOString(),
    progress: doc.progress,
    ...(doc.summary === undefined ? {} : { summary: doc.summary }),
  };
}
