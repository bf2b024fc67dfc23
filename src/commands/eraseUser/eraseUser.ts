import { randomUUID } from 'node:crypto';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import { BSON, type Db } from 'mongodb';
import { batchKeys, correctionsStream } from '../../events/batchHistory';
import type { EventLog } from '../../events/eventLog';
import { rawEventChunks } from '../../events/rawEventChunks';
import { deleteRawEventsOf, rawEventsCollection } from '../../events/rawEvents';
import { fingerprintHex, type FingerprintOf } from '../../events/userFingerprint';
import { suppressUser, userSuppressions } from '../../events/userSuppressions';
import { forEachInFlight } from '../../forEachInFlight';
import type { Logger } from '../../logging';
import type { BatchClaims } from '../uploadBatch/batchClaims';
import { eraseFromChunk, planChunk, rewriteChunk } from './chunkErasure';
import {
  erasedBatches,
  persistPlanItems,
  planItemsOf,
  summaryOf,
  userErasures,
  type ErasureDoc,
  type ErasureProgress,
  type PlanItem,
} from './erasures';

/**
 * The EraseUser command: removes every stored event of one user and the user from every chunk
 * document, and appends one UserErased per batch that held them, so that the projections take the
 * user out of the read models. Order (each step idempotent, so a resumed run finishes it once):
 *
 *   erasure document ─► suppression entry (nothing new of the user is stored from now on)
 *     ─► uploads storing at that moment settle ─► the user's batches (index user_batch)
 *     ─► per batch: per chunk holding the user, plan item persisted ─► chunk rewritten
 *        ─► UserErased appended (one or more, see ERASED_RECORD_BYTES)
 *        ─► the user's raw events of the batch deleted ─► the batch marked finished
 *     ─► done, with a summary (and the userId removed from the erasure document)
 */

export interface EraseUserDeps {
  db: Db;
  eventLog: EventLog;
  claims: BatchClaims;
  fingerprintOf: FingerprintOf;
  /** How long an erasure waits for uploads in flight (UPLOAD_SETTLE_WAIT_MS). */
  settleWaitMs: number;
  logger: Logger;
  /** Bytes of withdrawn detail per UserErased record (ERASED_RECORD_BYTES; tests make it small). */
  recordBytes?: number;
}

export interface EraseUserInput {
  userId: string;
  suppress?: boolean;
  correlationId: string;
}

const POLL_MS = 200;
/** Chunk documents read or rewritten at once. */
const CHUNKS_AT_ONCE = 8;
/** Chunks planned (decoded, the user's detail deflated) before the event loop gets a turn. */
const PLANS_BETWEEN_YIELDS = 256;
/**
 * A batch's UserErased records each name chunks whose withdrawn details add up to at most this
 * (one record unless the user is in very many of the batch's chunks), far below the 16 MiB a
 * MongoDB document can hold.
 */
export const ERASED_RECORD_BYTES = 4 * 1024 * 1024;

/** The batch's plan items (by chunk) in runs of at most `bound` bytes of withdrawn detail each. */
export function recordParts(items: readonly PlanItem[], bound = ERASED_RECORD_BYTES): PlanItem[][] {
  const parts: PlanItem[][] = [];
  let part: PlanItem[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = BSON.calculateObjectSize(item.withdrawn);
    if (part.length > 0 && bytes + size > bound) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(item);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

type Lap = (step: string) => void;

/** Time spent per step, summed over batches: logged with the erasure, for whoever wonders where it went. */
function stopwatch(): { lap: Lap; durationsMs: Record<string, number> } {
  const durationsMs: Record<string, number> = {};
  let last = Date.now();
  return {
    durationsMs,
    lap(step) {
      const now = Date.now();
      durationsMs[step] = (durationsMs[step] ?? 0) + now - last;
      last = now;
    },
  };
}

export function createEraseUser(deps: EraseUserDeps) {
  const erasures = userErasures(deps.db);
  const running = new Map<string, Promise<void>>();

  /** Waits until the uploads storing now have settled and every batch in `batchIds` is uploaded. */
  async function awaitUploads(storing: ReadonlySet<string>, batchIds: readonly string[]): Promise<void> {
    const deadline = Date.now() + deps.settleWaitMs;
    for (;;) {
      const views = await deps.claims.all();
      const still = views.filter((v) => storing.has(v.batchId) && v.state === 'storing');
      const missing: string[] = [];
      for (const batchId of batchIds) {
        if ((await deps.eventLog.findByKey(batchKeys.uploaded(batchId))) === undefined) missing.push(batchId);
      }
      // A batch that is not uploaded and not inserting any more was abandoned: its events go anyway.
      const pending = missing.filter((id) => views.some((v) => v.batchId === id && v.state !== 'abandoned'));
      if (still.length === 0 && pending.length === 0) return;
      if (Date.now() > deadline)
        throw new Error('uploads in flight did not settle; the erasure sweep resumes it');
      await sleep(POLL_MS);
    }
  }

  /** Erases the user from one batch; the events its plan items took out. */
  async function eraseBatch(doc: ErasureDoc, userId: string, batchId: string, lap: Lap): Promise<number> {
    const user = BigInt(`0x${doc.user}`);
    const chunkDocs = rawEventChunks(deps.db);
    // The heartbeat is renewed by run() meanwhile.
    const persist = (items: readonly PlanItem[]): Promise<void> => persistPlanItems(deps.db, doc._id, items);
    // The batch's chunk documents in one query: FerretDB reads whole documents whatever the
    // projection, and one query streams them at least as fast as a read per chunk.
    const chunks = await chunkDocs.find({ batchId }).toArray();
    lap('read');
    const planned: NonNullable<ReturnType<typeof planChunk>>[] = [];
    for (const [i, chunk] of chunks.entries()) {
      const plan = planChunk(chunk, user);
      if (plan !== undefined) planned.push(plan);
      // A batch of many chunks holding the user is seconds of work: leases and locks of this
      // process are renewed in between.
      if (i % PLANS_BETWEEN_YIELDS === PLANS_BETWEEN_YIELDS - 1) await setImmediate();
    }
    // Every chunk planned and the plan persisted at once (before any document changes, so a crash
    // after a rewrite still knows what was taken), then the rewrites side by side.
    await persist(planned.map((p) => p.item));
    lap('plan');
    const lost: string[] = [];
    await forEachInFlight(planned, CHUNKS_AT_ONCE, async ({ item, rewritten }) => {
      if (!(await rewriteChunk(deps.db, rewritten, item.fromRevision))) lost.push(rewritten._id);
    });
    // A chunk another erasure rewrote meanwhile is read and planned again, one at a time.
    for (const chunkId of lost) await eraseFromChunk(deps.db, chunkId, user, (item) => persist([item]));
    lap('rewrite');
    // Items persisted by an earlier run of this erasure too: their chunks were rewritten then.
    const items = await planItemsOf(deps.db, doc._id, batchId);
    // Once every chunk is rewritten the items do not change, so a resumed run cuts the same parts.
    for (const [part, taken] of recordParts(items, deps.recordBytes).entries()) {
      await deps.eventLog.append({
        type: 'UserErased',
        key: batchKeys.erased(doc._id, batchId, part),
        streamId: correctionsStream(batchId),
        data: {
          erasureId: doc._id,
          user: doc.user,
          batchId,
          chunks: taken.map((item) => ({
            chunk: item.chunk,
            revision: item.fromRevision + 1,
            withdrawn: item.withdrawn,
          })),
        },
        correlationId: doc.correlationId,
      });
    }
    lap('append');
    await deleteRawEventsOf(rawEventsCollection(deps.db), { userId, batchId });
    lap('delete');
    const events = items.reduce((sum, item) => sum + item.events, 0);
    await erasedBatches(deps.db).replaceOne(
      { _id: `${doc._id}:${batchId}` },
      { erasureId: doc._id, batchId, events },
      { upsert: true },
    );
    return events;
  }

  async function runSteps(erasureId: string): Promise<void> {
    const doc = await erasures.findOne({ _id: erasureId });
    if (doc === null || doc.state === 'done') return;
    const userId = doc.userId;
    if (userId === undefined) throw new Error(`erasure ${erasureId}: its userId is missing`);
    const { lap, durationsMs } = stopwatch();
    await suppressUser(userSuppressions(deps.db), {
      _id: doc.user,
      erasedAt: doc.requestedAt,
      all: doc.suppress,
    });
    const storing = new Set(
      (await deps.claims.all()).filter((v) => v.state === 'storing').map((v) => v.batchId),
    );
    const found = await rawEventsCollection(deps.db)
      .find({ userId }, { projection: { _id: 0, batchId: 1 } })
      .toArray();
    let batchIds = [...new Set(found.map((e) => e.batchId))];
    lap('find');
    await awaitUploads(storing, batchIds);
    lap('settle');
    // Uploads that were storing may have added batches of the user before the suppression applied
    // (an upload that began after it stores none of the user's events).
    if (storing.size > 0) {
      const again = await rawEventsCollection(deps.db)
        .find({ userId }, { projection: { _id: 0, batchId: 1 } })
        .toArray();
      batchIds = [...new Set([...batchIds, ...again.map((e) => e.batchId)])];
    }
    batchIds.sort();
    // Batches an earlier run finished (their raw events of the user are gone, so the find above
    // does not name them any more).
    const finished = await erasedBatches(deps.db).find({ erasureId }).toArray();
    const done = new Set(finished.map((b) => b.batchId));
    const pending = batchIds.filter((id) => !done.has(id));
    const progress: ErasureProgress = {
      batchesFound: done.size + pending.length,
      batchesDone: done.size,
      eventsRemoved: finished.reduce((sum, b) => sum + b.events, 0),
    };
    for (const batchId of pending) {
      progress.eventsRemoved += await eraseBatch(doc, userId, batchId, lap);
      progress.batchesDone += 1;
      await erasures.updateOne({ _id: erasureId }, { $set: { progress, heartbeatAt: new Date() } });
    }
    const summary = await summaryOf(deps.db, erasureId);
    await erasures.updateOne(
      { _id: erasureId },
      { $set: { state: 'done', summary, progress, finishedAt: new Date() }, $unset: { userId: '' } },
    );
    deps.logger.info('user erased', { erasureId, correlationId: doc.correlationId, ...summary, durationsMs });
  }

  /** Runs (or resumes) an erasure; concurrent calls in this process share one run. */
  function run(erasureId: string): Promise<void> {
    const current = running.get(erasureId);
    if (current !== undefined) return current;
    const renewal = setInterval(() => {
      erasures.updateOne({ _id: erasureId }, { $set: { heartbeatAt: new Date() } }).catch(() => undefined);
    }, 1000);
    const started = runSteps(erasureId).finally(() => {
      clearInterval(renewal);
      running.delete(erasureId);
    });
    running.set(erasureId, started);
    return started;
  }

  /** Persists a new erasure, or returns the user's erasure still running; `done` settles when it finished. */
  async function start(input: EraseUserInput): Promise<{ erasureId: string; done: Promise<void> }> {
    const user = fingerprintHex(deps.fingerprintOf(input.userId));
    const active = await erasures.findOne({ user, state: 'erasing' }, { projection: { _id: 1 } });
    if (active !== null) return { erasureId: active._id, done: run(active._id) };
    const now = new Date();
    const doc: ErasureDoc = {
      _id: randomUUID(),
      user,
      userId: input.userId,
      suppress: input.suppress === true,
      requestedAt: now,
      state: 'erasing',
      correlationId: input.correlationId,
      heartbeatAt: now,
      progress: { batchesFound: 0, batchesDone: 0, eventsRemoved: 0 },
    };
    await erasures.insertOne(doc);
    return { erasureId: doc._id, done: run(doc._id) };
  }

  return { start, run, isRunning: (erasureId: string) => running.has(erasureId) };
}

export type EraseUser = ReturnType<typeof createEraseUser>;
