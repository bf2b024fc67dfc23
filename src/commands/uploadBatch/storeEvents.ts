import { MongoBulkWriteError, type Collection, type WriteError } from 'mongodb';
import type { ChunkWriter } from '../../events/chunkWriter';
import type { RawEvent } from '../../events/rawEvents';
import { userFingerprint } from '../../events/userFingerprint';
import { DependencyUnavailableError } from '../../errors';
import { DUPLICATE_KEY, isMongoUnavailable } from '../../mongo';
import { forEachInFlight } from './forEachInFlight';
import { RecentKeys } from './recentKeys';
import { readSpool } from './spool';
import { PART_EVENTS, PARTS_PER_SLICE } from './uploadSessions';
import type { ValidEvent } from './validateRow';

/**
 * Inserting an upload's events while it holds the store lease. Every duplicate-key error then
 * means a committed batch already has the event (dead uploads were purged before the lease was
 * given out), so the only per-event operation is the insert itself: nothing reads raw events,
 * which FerretDB would answer with a scan of the collection for every read.
 */

const PART_BYTES = 2 * 1024 * 1024;
/**
 * Parts being inserted at once. Two keep the database busy while the other part travels; more
 * gained little (docs/performance.md).
 */
const INSERTS_IN_FLIGHT = 2;
/** Parts whose keys are remembered to drop in-file repeats (about 1.5 MB of keys). */
const RECENT_PARTS = 16;

export interface StoreContext {
  events: Collection<RawEvent>;
  batchId: string;
  /** Throws when the upload must stop (store lease lost); called before every insert. */
  checkAlive: () => void;
  /** Records that a slice is about to be written, before its first insert. */
  startSlice: (slice: number) => Promise<void>;
  /** Receives every event this batch inserted, cut into the chunks processing will count. */
  chunks: ChunkWriter;
  /** Receives the keys of the events this batch inserted. */
  onStored?: (keys: readonly string[]) => void;
}

function toDoc(e: ValidEvent, batchId: string, slice: number): RawEvent {
  return {
    _id: e.key,
    batchId,
    slice,
    userId: e.userId,
    eventType: e.eventType,
    timestamp: new Date(e.timestamp),
    metadata: e.metadata,
  };
}

/** Unordered insert; returns the documents inserted. Duplicate keys are expected, anything else is thrown. */
async function insertPart(events: Collection<RawEvent>, docs: RawEvent[]): Promise<RawEvent[]> {
  // A part made only of repeats of recent rows has nothing left to insert (the driver refuses []).
  if (docs.length === 0) return [];
  try {
    await events.insertMany(docs, { ordered: false });
    return docs;
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const writeErrors: WriteError[] = ([] as WriteError[]).concat(error.writeErrors);
    // Rethrown without the bulk result, which lists every inserted id and would flood the log.
    if (isMongoUnavailable(error)) throw new DependencyUnavailableError('mongo');
    const other = writeErrors.find((w) => w.code !== DUPLICATE_KEY);
    if (writeErrors.length === 0 || other !== undefined) {
      throw new Error(`inserting raw events failed: ${other?.errmsg ?? error.message}`);
    }
    const duplicateAt = new Set(writeErrors.map((w) => w.index));
    return docs.filter((_, i) => !duplicateAt.has(i));
  }
}

/** Stores the spooled events under `ctx.batchId`; returns how many were new. */
export async function storeEvents(ctx: StoreContext, spoolPath: string): Promise<number> {
  let inserted = 0;
  let part = 0;
  let slicesStarted = 0;
  let sliceRecorded: Promise<void> = Promise.resolve();
  // Repeats within the file are dropped here when they are close together. They still count as
  // duplicates, since only inserted events count as new.
  const recent = new RecentKeys(RECENT_PARTS);
  await forEachInFlight(readSpool(spoolPath, PART_EVENTS, PART_BYTES), INSERTS_IN_FLIGHT, async (events) => {
    // Sequential up to the insert, so parts are numbered in file order and two parts in flight
    // never share a key (they are within the window).
    const slice = Math.floor(part / PARTS_PER_SLICE);
    part += 1;
    const unseen = events.filter((event) => recent.firstSeen(event.key));
    recent.endPart();
    if (slice >= slicesStarted) {
      slicesStarted = slice + 1;
      sliceRecorded = ctx.startSlice(slice);
    }
    // Every part waits for its slice to be on record, also when an earlier part started it.
    await sliceRecorded;
    ctx.checkAlive();
    const stored = await insertPart(
      ctx.events,
      unseen.map((e) => toDoc(e, ctx.batchId, slice)),
    );
    inserted += stored.length;
    ctx.onStored?.(stored.map((d) => d._id));
    await ctx.chunks.add(stored.map((d) => [d.eventType, d.timestamp.getTime(), userFingerprint(d.userId)]));
  });
  ctx.checkAlive();
  return inserted;
}
