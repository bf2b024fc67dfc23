import { Binary, type Db } from 'mongodb';
import { eventsAt } from '../../events/chunkCodec';
import { detailOf } from '../../events/chunkDetail';
import { rawEventChunks, type RawEventChunk } from '../../events/rawEventChunks';
import type { UserFingerprint } from '../../events/userFingerprint';
import { bytesOfBinary } from '../../mongo';
import type { PlanItem } from './erasures';

/**
 * Taking one user out of one chunk document. The document is rewritten entry by entry (the same
 * bytes for every other event, so whatever processing reads of them is unchanged) under the
 * condition that its revision is still the one read: an erasure of another user racing for the
 * same chunk makes this one re-read and plan again.
 */

/** Indexes of the chunk's entries that are the user's. */
function entriesOf(doc: Pick<RawEventChunk, 'users' | 'count'>, user: UserFingerprint): number[] {
  const users = doc.users === undefined ? Buffer.alloc(0) : bytesOfBinary(doc.users);
  // Compared as two 32-bit halves: no BigInt per entry.
  const high = Number(user >> 32n);
  const low = Number(user & 0xffffffffn);
  const found: number[] = [];
  for (let i = 0; i < doc.count && i * 8 + 8 <= users.length; i++)
    if (users.readUInt32BE(i * 8 + 4) === low && users.readUInt32BE(i * 8) === high) found.push(i);
  return found;
}

/** Whether a chunk document (only its `users` and `count` read) holds any event of the user. */
export function holdsUser(doc: Pick<RawEventChunk, 'users' | 'count'>, user: UserFingerprint): boolean {
  return entriesOf(doc, user).length > 0;
}

/** The plan item for taking the user out of `doc`, and the document without them. */
export function planChunk(
  doc: RawEventChunk,
  user: UserFingerprint,
): { item: PlanItem; rewritten: RawEventChunk } | undefined {
  const entries = new Set(entriesOf(doc, user));
  if (entries.size === 0) return undefined;
  // Only the user's entries are decoded: a chunk holds thousands of other events.
  const withdrawn = eventsAt(doc, entries).filter((event) => event !== null);
  // The runs of entries between the user's, each copied at once.
  const removed = [...entries].sort((a, b) => a - b);
  const keep = (bytes: Buffer, width: number): Binary => {
    const out = Buffer.alloc((doc.count - entries.size) * width);
    let at = 0;
    let from = 0;
    for (const i of [...removed, doc.count]) {
      at += bytes.copy(out, at, from * width, i * width);
      from = i + 1;
    }
    return new Binary(out);
  };
  const fromRevision = doc.revision ?? 0;
  const rewritten: RawEventChunk = {
    ...doc,
    count: doc.count - entries.size,
    typeIndexes: keep(bytesOfBinary(doc.typeIndexes), 4),
    timestamps: keep(bytesOfBinary(doc.timestamps), 8),
    users: keep(bytesOfBinary(doc.users), 8),
    revision: fromRevision + 1,
    erased: (doc.erased ?? 0) + entries.size,
  };
  return {
    item: {
      batchId: doc.batchId,
      chunk: doc.chunk,
      fromRevision,
      withdrawn: detailOf(withdrawn),
      events: withdrawn.length,
    },
    rewritten,
  };
}

/** Puts a rewritten chunk document in place if its revision is still `fromRevision`. */
export async function rewriteChunk(db: Db, rewritten: RawEventChunk, fromRevision: number): Promise<boolean> {
  // Revision 0 is never written: a document that has never been rewritten has no revision.
  const { matchedCount } = await rawEventChunks(db).replaceOne(
    { _id: rewritten._id, revision: fromRevision === 0 ? { $exists: false } : fromRevision },
    rewritten,
  );
  return matchedCount === 1;
}

const REPLAN_ATTEMPTS = 20;

/**
 * Takes the user out of one chunk: reads it, lets `persist` record the plan item (before the
 * document changes, so a crash after the rewrite still knows what was taken), then rewrites it if
 * its revision is still the one read. Returns the item, or undefined when the chunk does not hold
 * the user (any more).
 */
export async function eraseFromChunk(
  db: Db,
  chunkId: string,
  user: UserFingerprint,
  persist: (item: PlanItem) => Promise<void>,
): Promise<PlanItem | undefined> {
  const chunks = rawEventChunks(db);
  for (let attempt = 0; attempt < REPLAN_ATTEMPTS; attempt++) {
    const doc = await chunks.findOne({ _id: chunkId });
    if (doc === null) return undefined;
    const planned = planChunk(doc, user);
    if (planned === undefined) return undefined;
    await persist(planned.item);
    if (await rewriteChunk(db, planned.rewritten, planned.item.fromRevision)) return planned.item;
  }
  throw new Error(`chunk ${chunkId}: could not take a user out after ${REPLAN_ATTEMPTS} attempts`);
}
