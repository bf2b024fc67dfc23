import type { Collection, Db, Filter, OptionalUnlessRequiredId } from 'mongodb';
import type { CountedRecord } from '../events/corrections';
import { isDuplicateKey } from '../mongo';
import type { ProjectionName } from './readModels';
import { StaleReadModelMemoryError, type ReadModelMemory } from './readModelMemory';

/** One idempotent write to a read model: safe to run again after a crash at any point. */
export type Write = () => Promise<void>;

/**
 * A read model kept from the log. `planPage` gets a page of records, each with what it changes in
 * the counts (see corrections), reads the `lastPosition` of the documents they touch and returns one write per document, carrying only the contributions of records
 * after that position; each write is conditional on it, which is what makes replays harmless.
 * Each write is to a document of its own, so the projector runs several at once; a crash between
 * them is healed by replaying the page (the checkpoint moves only once all landed).
 * One write per document per page (not per record) is what keeps big batches fast.
 */
export interface Projection {
  name: ProjectionName;
  ensureIndexes(db: Db, collectionName: string): Promise<void>;
  planPage(
    db: Db,
    collectionName: string,
    page: readonly CountedRecord[],
    report?: Report,
    /** The live projector's: documents it wrote, which it need not read back (see ReadModelMemory). */
    memory?: ReadModelMemory,
  ): Promise<Write[]>;
}

/**
 * Told once a write that changes what an operator cares about (a batch completed or failed) has
 * landed. Only the live projector passes one: a rebuild replays the log into a fresh version and
 * must not announce again what happened long ago. A write is planned only for records after the
 * stored document's position, so a replayed page that was already applied reports nothing.
 */
export type Report = (message: string, fields: Record<string, unknown>) => void;

/** A read-model document: its key and the last log position applied to it. */
export interface PositionedDoc {
  _id: string;
  lastPosition: number;
}

/**
 * Puts `next` where `stored` was read: an insert when there was none, otherwise a replace
 * conditional on the `lastPosition` read. False when that found a duplicate key or no match: a
 * writer that lost its lease applied the same log meanwhile, so there is nothing left to do.
 */
export async function putOver<T extends PositionedDoc>(
  collection: Collection<T>,
  stored: T | null,
  next: T,
): Promise<boolean> {
  if (stored === null) return inserted(collection, next);
  const unchanged = { _id: stored._id, lastPosition: stored.lastPosition } as Filter<T>;
  const { _id: _ignored, ...replacement } = next;
  return (await collection.replaceOne(unchanged, replacement)).matchedCount === 1;
}

/** putOver as one of a page's writes. */
export function writeOver<T extends PositionedDoc>(
  collection: Collection<T>,
  stored: T | null,
  next: T,
): Write {
  return async () => {
    await putOver(collection, stored, next);
  };
}

/**
 * putOver as one of a page's writes, keeping the projector's `memory` (when it has one) in step:
 * the document written is remembered; one that met another writer's document is forgotten, and
 * when `stored` came from the memory, the page must be planned again from the database
 * (StaleReadModelMemoryError).
 */
export function writeRemembered<T extends PositionedDoc>(
  collection: Collection<T>,
  stored: { doc: T | null; fromMemory: boolean },
  next: T,
  memory: ReadModelMemory | undefined,
  bytes: number,
): Write {
  return async () => {
    if (await putOver(collection, stored.doc, next)) {
      memory?.remember(next, bytes);
      return;
    }
    memory?.drop(next._id);
    if (stored.fromMemory) throw new StaleReadModelMemoryError(next._id);
  };
}

/** Inserts `doc`; false when its key is there already. */
async function inserted<T extends { _id: string }>(collection: Collection<T>, doc: T): Promise<boolean> {
  try {
    await collection.insertOne(doc as OptionalUnlessRequiredId<T>);
    return true;
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return false;
  }
}

/** Inserts a document that is the same whenever it is made; a duplicate key means it is there. */
export function insertOnce<T extends { _id: string }>(collection: Collection<T>, doc: T): Write {
  return async () => {
    await inserted(collection, doc);
  };
}

/** The parts of a page for a document that come after its stored `lastPosition`, in order. */
export function partsAfter<P extends { position: number }>(
  stored: PositionedDoc | null,
  parts: readonly P[],
): P[] {
  const position = stored?.lastPosition ?? 0;
  return parts.filter((p) => p.position > position);
}
