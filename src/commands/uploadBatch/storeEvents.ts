import type { Collection } from 'mongodb';
import type { ChunkWriter } from '../../events/chunkWriter';
import { INSERT_GROUP_EVENTS, type RawEvent } from '../../events/rawEvents';
import type { FingerprintOf, UserFingerprint } from '../../events/userFingerprint';
import { suppressionCheck, type UserSuppression } from '../../events/userSuppressions';
import { DependencyUnavailableError } from '../../errors';
import { insertUnordered, isMongoUnavailable } from '../../mongo';
import { forEachInFlight } from '../../forEachInFlight';
import { FileKeys } from './fileKeys';
import { readSpool, SpoolWriter } from './spool';
import type { ValidEvent } from './validateRow';

/**
 * Inserting an upload's events beside any other upload. A duplicate-key error is final when the
 * event's owner can no longer lose it: no other batch is unsettled (storing, or abandoned) right
 * after the insert answered. Otherwise the duplicates are set aside in a file, with the unsettled
 * batches to watch, and decided once those settle (uploadBatch). An event that another upload of
 * this process still storing inserted is set aside the same way, watching that upload, without
 * being sent (InFlightKeys). Nothing reads raw events per key:
 * a read per event would double the round trips, and FerretDB answers an `$in` with a scan.
 */

/** Events per insert. */
export const PART_EVENTS = 1000;
/** Parts per insert group (see RawEvent.insertGroup). */
const PARTS_PER_GROUP = INSERT_GROUP_EVENTS / PART_EVENTS;
const PART_BYTES = 2 * 1024 * 1024;
/**
 * Parts being inserted at once. Two keep the database busy while the other part travels; more
 * gained little (docs/performance.md).
 */
const INSERTS_IN_FLIGHT = 2;

export interface StoreContext {
  events: Collection<RawEvent>;
  batchId: string;
  /** Throws when the upload must stop (its claim may have expired); called before every insert. */
  checkAlive: () => void;
  /** The other batches whose events may still be deleted; read only after an insert met duplicates. */
  unsettledBatches: () => Promise<Set<string>>;
  /** Receives every event this batch inserted, cut into the chunks processing will count. */
  chunks: ChunkWriter;
  fingerprintOf: FingerprintOf;
  /** Erased users: their events are dropped before the insert (see userSuppressions). */
  suppressions: Collection<UserSuppression>;
  /** Parts inserted so far by this upload, every round (numbers its insert groups). */
  partsInserted: number;
  /** Where duplicates that are not final yet are set aside. */
  deferredPath: string;
  /**
   * Another upload of this process, still storing, that inserted the event of `key` (InFlightKeys):
   * the event is set aside until that one settles, without a duplicate-key error.
   */
  insertedElsewhere?: (key: string) => string | undefined;
  /** Told the keys of every part as it is inserted. */
  onInserted?: (keys: string[]) => void;
  /** Told the keys of the events dropped as an erased user's. */
  onSuppressed?: (keys: string[]) => void;
}

export interface StoreResult {
  inserted: number;
  /** Events of erased users, dropped: neither new nor duplicates. */
  suppressed: number;
  /** Duplicates set aside in `deferredPath`, to decide once the `watch` batches settled. */
  deferred: number;
  watch: Set<string>;
}

function toDoc(e: ValidEvent, batchId: string, insertGroup: number): RawEvent {
  return {
    _id: e.key,
    batchId,
    insertGroup,
    userId: e.userId,
    eventType: e.eventType,
    timestamp: new Date(e.timestamp),
    metadata: e.metadata,
  };
}

/** Unordered insert; returns the indexes that were duplicates. Anything but duplicate keys is thrown. */
async function insertPart(events: Collection<RawEvent>, docs: RawEvent[]): Promise<Set<number>> {
  try {
    return await insertUnordered(events, docs);
  } catch (error) {
    // Rethrown without the bulk result, which lists every inserted id and would flood the log.
    if (isMongoUnavailable(error)) throw new DependencyUnavailableError('mongo');
    throw new Error(`inserting raw events failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Stores the spooled events under `ctx.batchId`. */
export async function storeEvents(ctx: StoreContext, spoolPath: string): Promise<StoreResult> {
  const result: StoreResult = { inserted: 0, suppressed: 0, deferred: 0, watch: new Set() };
  let deferred: SpoolWriter | undefined;
  // Repeats within the file are dropped here. They still count as duplicates, since only inserted
  // events count as new.
  const fileKeys = new FileKeys();
  try {
    await forEachInFlight(
      readSpool(spoolPath, PART_EVENTS, PART_BYTES),
      INSERTS_IN_FLIGHT,
      async (events) => {
        // Sequential up to the insert, so a key of a part in flight is known to the next one.
        const firstSeen = events.filter((event) => fileKeys.firstSeen(event.key));
        const users = firstSeen.map((e) => ctx.fingerprintOf(e.userId));
        const suppressed = await suppressionCheck(ctx.suppressions, users);
        const kept = firstSeen.map((e, i) => !suppressed(users[i] ?? 0n, e.timestamp));
        result.suppressed += kept.filter((k) => !k).length;
        ctx.onSuppressed?.(firstSeen.filter((_, i) => !kept[i]).map((e) => e.key));
        const unseen: ValidEvent[] = [];
        const unseenUsers: UserFingerprint[] = [];
        const elsewhere: { event: ValidEvent; owner: string }[] = [];
        firstSeen.forEach((event, i) => {
          if (!kept[i]) return;
          const owner = ctx.insertedElsewhere?.(event.key);
          if (owner !== undefined) elsewhere.push({ event, owner });
          else {
            unseen.push(event);
            unseenUsers.push(users[i] ?? 0n);
          }
        });
        ctx.checkAlive();
        const insertGroup = Math.floor(ctx.partsInserted++ / PARTS_PER_GROUP);
        const duplicateAt = await insertPart(
          ctx.events,
          unseen.map((e) => toDoc(e, ctx.batchId, insertGroup)),
        );
        const stored = unseen.flatMap((e, i) =>
          duplicateAt.has(i) ? [] : [{ event: e, user: unseenUsers[i] ?? 0n }],
        );
        result.inserted += stored.length;
        ctx.onInserted?.(stored.map(({ event }) => event.key));
        await ctx.chunks.add(stored.map(({ event, user }) => [event.eventType, event.timestamp, user]));
        const setAside = elsewhere.map(({ event, owner }) => {
          result.watch.add(owner);
          return event;
        });
        if (duplicateAt.size > 0) {
          // Read after the insert answered: an owner settled by now keeps its events for good.
          const unsettled = await ctx.unsettledBatches();
          for (const id of unsettled) result.watch.add(id);
          if (unsettled.size > 0) {
            for (const i of duplicateAt) {
              const event = unseen[i];
              if (event !== undefined) setAside.push(event);
            }
          }
        }
        if (setAside.length === 0) return;
        deferred ??= new SpoolWriter(ctx.deferredPath);
        for (const event of setAside) {
          await deferred.write(event);
          result.deferred += 1;
        }
      },
    );
  } finally {
    await deferred?.close();
  }
  ctx.checkAlive();
  return result;
}
