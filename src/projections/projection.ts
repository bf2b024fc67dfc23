import { BSON, type Collection, type Db, type Filter, type OptionalUnlessRequiredId } from 'mongodb';
import type { CountedRecord } from '../events/corrections';
import { insertUnordered, isDuplicateKey } from '../mongo';
import type { ProjectionName } from './readModels';
import { StaleReadModelMemoryError, type ReadModelMemory } from './readModelMemory';

/** One idempotent write to a read model: safe to run again after a crash at any point. */
export type Write = () => Promise<void>;

/**
 * A read model kept from the log. `planPage` gets a page of records, each with what it changes in
 * the counts (see corrections), reads the `lastPosition` of the documents they touch (from the
 * memory when it knows them) and plans one write per document (see writesOf), carrying only the
 * contributions of records after that position; each write is conditional on it, which is what
 * makes replays harmless. Each write is to documents of its own, so the projector runs several at
 * once; a crash between them is healed by replaying the page (the checkpoint moves only once all
 * landed). One write per document per page (not per record) is what keeps big batches fast.
 */
export interface Projection {
  name: ProjectionName;
  ensureIndexes(db: Db, collectionName: string): Promise<void>;
  planPage(
    db: Db,
    collectionName: string,
    page: readonly CountedRecord[],
    report?: Report,
    /** Documents this writer wrote, which it need not read back (see ReadModelMemory). */
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

/** A document as a page found it (null: none) and whether the memory said so (see ReadModelMemory). */
export interface Stored<T extends PositionedDoc> {
  doc: T | null;
  fromMemory: boolean;
}

/**
 * The documents of `ids` the memory knows, stored or known to be absent (see ReadModelMemory), and
 * the ids it does not know, for the projection to read from the database its own way.
 */
export function recallFrom<T extends PositionedDoc>(
  memory: ReadModelMemory | undefined,
  ids: Iterable<string>,
  isDoc: (doc: PositionedDoc) => doc is T,
): { known: Map<string, Stored<T>>; unknown: string[] } {
  const known = new Map<string, Stored<T>>();
  const unknown: string[] = [];
  for (const id of ids) {
    const remembered = memory?.recall(id);
    if (remembered === null) known.set(id, { doc: null, fromMemory: true });
    else if (remembered !== undefined && isDoc(remembered))
      known.set(id, { doc: remembered, fromMemory: true });
    else unknown.push(id);
  }
  return { known, unknown };
}

/** The documents of `ids` the memory knows, the others read by `_id`, side by side (null: none). */
export async function readByIds<T extends PositionedDoc>(
  collection: Collection<T>,
  ids: readonly string[],
  memory: ReadModelMemory | undefined,
  isDoc: (doc: PositionedDoc) => doc is T,
): Promise<Map<string, Stored<T>>> {
  const { known, unknown } = recallFrom(memory, ids, isDoc);
  const docs = await Promise.all(unknown.map((_id) => collection.findOne({ _id } as Filter<T>)));
  unknown.forEach((id, i) => known.set(id, { doc: (docs[i] ?? null) as T | null, fromMemory: false }));
  return known;
}

/** One document a page puts where it found `stored`; `landed` is told once it is there. */
export interface Planned<T extends PositionedDoc> {
  stored: Stored<T>;
  next: T;
  /** About the bytes it holds in memory. */
  bytes: number;
  landed?: () => void;
}

/** The most a MongoDB document may hold. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * A read-model document grew past what MongoDB can store (docs/production.md, known limits): its
 * projection cannot move on until the document is split, and says so instead of the serialiser's
 * bare offset error.
 */
export class ReadModelDocumentTooLargeError extends Error {
  constructor(collection: string, id: string, bytes: number) {
    const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
    super(
      `read-model document ${id} in ${collection} would be ${mb(bytes)} MiB, more than the ` +
        `${mb(MAX_DOCUMENT_BYTES)} MiB a MongoDB document can hold (see docs/production.md, known limits)`,
    );
  }
}

/** New documents up to this size are inserted together, up to INSERT_GROUP_DOCS in one command. */
const SMALL_DOC_BYTES = 16 * 1024;
const INSERT_GROUP_DOCS = 500;

/**
 * A page's writes (see putOver), keeping the projector's `memory` (when it has one) in step: the
 * document written is remembered; one that met another writer's document is forgotten, and when
 * `stored` came from the memory, the page must be planned again from the database
 * (StaleReadModelMemoryError). Small documents no one has stored yet go in groups, one command
 * each (a page of posts makes a status document for every batch); the others one write each. A
 * document too big to store fails the page before any of its writes is handed out
 * (ReadModelDocumentTooLargeError).
 */
export function writesOf<T extends PositionedDoc>(
  collection: Collection<T>,
  planned: readonly Planned<T>[],
  memory: ReadModelMemory | undefined,
): Write[] {
  const landed = (p: Planned<T>): void => {
    memory?.remember(p.next, p.bytes);
    p.landed?.();
  };
  // Another writer's document is there: nothing left to do, unless this page was planned from memory.
  const missed = (p: Planned<T>): boolean => {
    memory?.drop(p.next._id);
    return p.stored.fromMemory;
  };
  const writes: Write[] = [];
  const grouped: Planned<T>[] = [];
  for (const p of planned) {
    const bytes = BSON.calculateObjectSize(p.next);
    if (bytes > MAX_DOCUMENT_BYTES) {
      throw new ReadModelDocumentTooLargeError(collection.collectionName, p.next._id, bytes);
    }
    if (p.stored.doc === null && p.bytes <= SMALL_DOC_BYTES) grouped.push(p);
    else
      writes.push(async () => {
        if (await putOver(collection, p.stored.doc, p.next)) landed(p);
        else if (missed(p)) throw new StaleReadModelMemoryError(p.next._id);
      });
  }
  for (let i = 0; i < grouped.length; i += INSERT_GROUP_DOCS) {
    const group = grouped.slice(i, i + INSERT_GROUP_DOCS);
    writes.push(async () => {
      const duplicates = await insertUnordered(
        collection,
        group.map((p) => p.next as OptionalUnlessRequiredId<T>),
      );
      let stale: string | undefined;
      group.forEach((p, index) => {
        if (!duplicates.has(index)) landed(p);
        else if (missed(p)) stale ??= p.next._id;
      });
      if (stale !== undefined) throw new StaleReadModelMemoryError(stale);
    });
  }
  return writes;
}

/**
 * A document split into parts for its size (see metricSeries, dailyMetrics) is written without
 * transactions in an order that keeps readers right. Splitting: the parts land before the document
 * that says it is split. Joining (splittingWrite's opposite): the document takes its parts' content
 * back, and only once it landed are the parts deleted. A reader that finds a document whole
 * ignores parts beside it (a process stopped between the two steps leaves them).
 */
function splittingWrite<T extends PositionedDoc>(
  collection: Collection<T>,
  doc: Planned<T>,
  parts: readonly Planned<T>[],
  memory: ReadModelMemory | undefined,
): Write {
  const partWrites = writesOf(collection, parts, memory);
  const docWrites = writesOf(collection, [doc], memory);
  return async () => {
    await Promise.all(partWrites.map((write) => write()));
    for (const write of docWrites) await write();
  };
}

/** See splittingWrite. */
function joiningWrite<T extends PositionedDoc>(
  collection: Collection<T>,
  doc: Planned<T>,
  partIds: readonly string[],
  memory: ReadModelMemory | undefined,
): Write {
  let landed = false;
  const docWrites = writesOf(
    collection,
    [
      {
        ...doc,
        landed: () => {
          landed = true;
          doc.landed?.();
        },
      },
    ],
    memory,
  );
  return async () => {
    for (const write of docWrites) await write();
    if (!landed) return;
    await Promise.all(
      partIds.map(async (id) => {
        await collection.deleteOne({ _id: id } as Filter<T>);
        memory?.deleted(id);
      }),
    );
  };
}

/** A read model whose documents are split into parts when they outgrow one (see planSplitPage). */
export interface SplitLayout<T extends PositionedDoc & { split?: true }> {
  isDoc: (doc: PositionedDoc) => doc is T;
  partIdsOf(id: string): string[];
  /** What a document holds, against `bound`: above it, a document is split. */
  size(doc: T): number;
  bound: number;
  /** A whole document as a split one and its parts. */
  split(whole: T): { doc: T; parts: T[] };
  /** A split document and its parts as one whole document (a new object). */
  join(doc: T, parts: readonly T[]): T;
  /** About the bytes a document holds in memory (see Planned). */
  bytes(doc: T): number;
}

/**
 * The writes of a page to documents that may be split (series months, days): `whole(id)` is a
 * document not split after the page (null: nothing pending), `split(id)` a split one and each of
 * its parts (read into `stored` here). Which layout follows from the content alone (`size` against
 * `bound`), so a rebuild writes the same documents: one that outgrows its bound is split, a split one
 * back within it joined, each in the order splittingWrite and joiningWrite keep; parts a stopped join
 * left beside a whole document (when its year was read) go after it.
 */
export async function planSplitPage<T extends PositionedDoc & { split?: true }>(
  collection: Collection<T>,
  layout: SplitLayout<T>,
  ids: readonly string[],
  stored: Map<string, Stored<T>>,
  memory: ReadModelMemory | undefined,
  next: { whole(id: string): T | null; split(id: string): { doc: T | null; parts: (T | null)[] } },
): Promise<Write[]> {
  const isSplit = (id: string): boolean => stored.get(id)?.doc?.split === true;
  const nextWhole = new Map<string, T>();
  for (const id of ids) {
    const whole = isSplit(id) ? null : next.whole(id);
    if (whole !== null) nextWhole.set(id, whole);
  }
  const outgrown = (id: string): boolean => {
    const whole = nextWhole.get(id);
    return whole !== undefined && layout.size(whole) > layout.bound;
  };
  // The parts of split documents, and of those being split (left by an interrupted write, if any).
  const partIds = ids
    .flatMap((id) => (isSplit(id) || outgrown(id) ? layout.partIdsOf(id) : []))
    .filter((id) => !stored.has(id));
  for (const [id, found] of await readByIds(collection, partIds, memory, layout.isDoc)) stored.set(id, found);

  const plan = (doc: T): Planned<T> => ({
    stored: stored.get(doc._id) ?? { doc: null, fromMemory: false },
    next: doc,
    bytes: layout.bytes(doc),
  });
  const storedDoc = (id: string): T | null => stored.get(id)?.doc ?? null;
  const planned: Planned<T>[] = [];
  const ordered: Write[] = [];
  for (const id of ids) {
    const whole = nextWhole.get(id);
    if (whole !== undefined && !outgrown(id)) {
      const strays = layout.partIdsOf(id).filter((partId) => storedDoc(partId) !== null);
      if (strays.length === 0) planned.push(plan(whole));
      else ordered.push(joiningWrite(collection, plan(whole), strays, memory));
    } else if (whole !== undefined) {
      const { doc, parts } = layout.split(whole);
      ordered.push(splittingWrite(collection, plan(doc), parts.map(plan), memory));
    } else if (isSplit(id)) {
      const { doc, parts } = next.split(id);
      const after = layout.partIdsOf(id).flatMap((partId, i) => {
        const part = parts[i] ?? storedDoc(partId);
        return part === null ? [] : [part];
      });
      if (after.reduce((sum, part) => sum + layout.size(part), 0) > layout.bound) {
        for (const changed of [doc, ...parts]) if (changed !== null) planned.push(plan(changed));
        continue;
      }
      const before = doc ?? storedDoc(id);
      if (before === null) continue;
      const joined = layout.join(before, after);
      joined.lastPosition = Math.max(before.lastPosition, ...after.map((part) => part.lastPosition));
      ordered.push(joiningWrite(collection, plan(joined), layout.partIdsOf(id), memory));
    }
  }
  return [...writesOf(collection, planned, memory), ...ordered];
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

/** The parts of a page for a document that come after its stored `lastPosition`, in order. */
export function partsAfter<P extends { position: number }>(
  stored: PositionedDoc | null,
  parts: readonly P[],
): P[] {
  const position = stored?.lastPosition ?? 0;
  return parts.filter((p) => p.position > position);
}
