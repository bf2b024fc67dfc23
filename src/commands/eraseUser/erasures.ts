import type { Collection, Db } from 'mongodb';
import { dayCountsOf } from '../../events/dailyCounts';
import type { ChunkDetail } from '../../events/chunkDetail';
import { byCodeUnits } from '../../events/codeUnitOrder';

/**
 * One document per erasure request, written before anything is removed, so that a crash at any
 * point leaves something the sweep (erasureSweep.ts) finishes. The plan records, per chunk taken
 * out, what the user had there before the chunk document was rewritten: a chunk that no longer
 * holds the user's fingerprint was rewritten (chunk documents never gain events), and the plan
 * says by what. The userId is kept only while the erasure runs (the user's raw events, which hold
 * it too, are still there then): the sweep needs it to find them. Marking it done removes it.
 */

export const USER_ERASURES_COLLECTION = 'user_erasures';

export interface PlanItem {
  batchId: string;
  chunk: number;
  /** The chunk document's revision the erasure rewrote (it wrote fromRevision + 1). */
  fromRevision: number;
  /** The user's countable events in that chunk. */
  withdrawn: ChunkDetail;
  events: number;
}

export interface ErasureSummary {
  eventsRemoved: number;
  batches: number;
  /** UTC dates that had events of the user. */
  days: string[];
  eventTypes: string[];
}

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
  plan: PlanItem[];
  doneBatches: string[];
  summary?: ErasureSummary;
  finishedAt?: Date;
}

export function userErasures(db: Db): Collection<ErasureDoc> {
  return db.collection<ErasureDoc>(USER_ERASURES_COLLECTION);
}

export async function ensureUserErasureIndexes(db: Db): Promise<void> {
  await userErasures(db).createIndex({ state: 1, heartbeatAt: 1 }, { name: 'state_heartbeat' }, undefined);
}

export function summaryOf(plan: readonly PlanItem[]): ErasureSummary {
  const days = new Set<string>();
  const eventTypes = new Set<string>();
  for (const item of plan) {
    for (const { date, eventType } of dayCountsOf(item.withdrawn)) {
      days.add(date);
      eventTypes.add(eventType);
    }
  }
  return {
    eventsRemoved: plan.reduce((sum, item) => sum + item.events, 0),
    batches: new Set(plan.map((item) => item.batchId)).size,
    days: [...days].sort(byCodeUnits),
    eventTypes: [...eventTypes].sort(byCodeUnits),
  };
}

export function progressOf(
  doc: Pick<ErasureDoc, 'plan' | 'doneBatches'>,
  batchesFound: number,
): ErasureProgress {
  return {
    batchesFound,
    batchesDone: doc.doneBatches.length,
    eventsRemoved: doc.plan
      .filter((item) => doc.doneBatches.includes(item.batchId))
      .reduce((sum, item) => sum + item.events, 0),
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
  const doc = await userErasures(db).findOne({ _id: erasureId }, { projection: { userId: 0, plan: 0 } });
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
