import { MongoBulkWriteError, type Collection, type WriteError } from 'mongodb';
import type { ChunkWriter } from '../../events/rawEventChunks';
import type { RawEvent } from '../../events/rawEvents';
import { DependencyUnavailableError } from '../../errors';
import { DUPLICATE_KEY, isMongoUnavailable } from '../../mongo';
import { forEachInFlight } from './forEachInFlight';
import { RecentKeys } from './recentKeys';
import { readSpool } from './spool';
import type { SessionsSnapshot, UploadSessions } from './uploadSessions';
import type { ValidEvent } from './validateRow';

/**
 * Events per insertMany. With two in flight, 95,000 events took 2.6-2.8 s in batches of 250 or 500,
 * 2.0-2.4 s in 1,000, 2.0 s in 2,000 and 2.1 s in 5,000 (FerretDB on PostgreSQL): 1,000 is as fast
 * as larger batches while holding less per insert.
 */
const CHUNK_EVENTS = 1000;
const CHUNK_BYTES = 2 * 1024 * 1024;
const MAX_INSERT_ROUNDS = 5;
/**
 * Chunks being inserted at once. Two keep the database busy while the other chunk travels: on
 * FerretDB over PostgreSQL (2 cores) 95,000 events went in 1.5x faster than one insertMany at a
 * time (2.9 s against 4.4 s), and three or four gained little more.
 */
const INSERTS_IN_FLIGHT = 2;
/** Chunks whose keys are remembered to drop in-file repeats (about 1.5 MB of keys). */
const RECENT_CHUNKS = 16;

export interface StorePass {
  /** Events this pass inserted, now owned by the batch. */
  inserted: number;
  /** Batches that own some of our duplicates and have not committed (yet): the count depends on them. */
  pendingOwners: Set<string>;
}

export interface StoreContext {
  events: Collection<RawEvent>;
  sessions: UploadSessions;
  batchId: string;
  /** Throws when the upload must stop (lease lost); called between chunks. */
  checkAlive: () => void;
  /** Owners already seen committed: a committed batch never changes, so it is not asked again. */
  committed: Set<string>;
  /** Receives every event this batch inserted, cut into the chunks processing will count. */
  chunks: ChunkWriter;
}

function toDoc(e: ValidEvent, batchId: string): RawEvent {
  return {
    _id: e.key,
    batchId,
    userId: e.userId,
    eventType: e.eventType,
    timestamp: new Date(e.timestamp),
    metadata: e.metadata,
    idempotencyKey: e.key,
  };
}

/** Unordered insert; duplicate keys are expected and returned, anything else is thrown. */
async function insertChunk(
  events: Collection<RawEvent>,
  docs: RawEvent[],
): Promise<{ inserted: RawEvent[]; duplicates: RawEvent[] }> {
  try {
    await events.insertMany(docs, { ordered: false });
    return { inserted: docs, duplicates: [] };
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const writeErrors: WriteError[] = ([] as WriteError[]).concat(error.writeErrors);
    // Rethrown without the bulk result, which lists every inserted id and would flood the log.
    if (isMongoUnavailable(error)) throw new DependencyUnavailableError('mongo');
    if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== DUPLICATE_KEY)) {
      const first = writeErrors.find((w) => w.code !== DUPLICATE_KEY);
      throw new Error(`inserting raw events failed: ${first?.errmsg ?? error.message}`);
    }
    const duplicateAt = new Set(writeErrors.map((w) => w.index));
    return {
      inserted: docs.filter((_, i) => !duplicateAt.has(i)),
      duplicates: docs.filter((_, i) => duplicateAt.has(i)),
    };
  }
}

/** Primary-key reads in flight at once while looking up the owners of duplicates. */
const OWNER_READS_IN_FLIGHT = 32;

/**
 * The batch owning each key, read by primary key a few at a time: FerretDB answers `$in` with a
 * scan of the whole collection, which made big uploads slow down as the collection grew.
 */
async function findOwners(events: Collection<RawEvent>, keys: string[]): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  for (let i = 0; i < keys.length; i += OWNER_READS_IN_FLIGHT) {
    const found = await Promise.all(
      keys
        .slice(i, i + OWNER_READS_IN_FLIGHT)
        .map((_id) => events.findOne({ _id }, { projection: { _id: 1, batchId: 1 } })),
    );
    for (const doc of found) if (doc !== null) owners.set(doc._id, doc.batchId);
  }
  return owners;
}

/**
 * Inserts one chunk and finds who owns each duplicate. A duplicate whose document has vanished
 * meanwhile (its uncommitted owner was undone) is inserted again, so no row is lost to a race.
 *
 * When no other upload had a session since `quiet` was taken, every duplicate is owned by a
 * committed batch and the owners are not looked up: the common case of a re-uploaded file. This
 * matters on FerretDB's SQLite backend, where each read by `_id` scans the collection.
 */
async function storeChunk(
  ctx: StoreContext,
  chunk: ValidEvent[],
  pending: Set<string>,
  quiet: SessionsSnapshot,
): Promise<{ inserted: number; quiet: SessionsSnapshot }> {
  let docs = chunk.map((e) => toDoc(e, ctx.batchId));
  let inserted = 0;
  let lookedUp = false;
  for (let round = 1; docs.length > 0; round++) {
    if (round > MAX_INSERT_ROUNDS) throw new Error('raw events keep vanishing during the upload');
    const outcome = await insertChunk(ctx.events, docs);
    inserted += outcome.inserted.length;
    await ctx.chunks.add(outcome.inserted.map((d) => [d.eventType, d.timestamp.getTime()]));
    if (outcome.duplicates.length === 0) break;
    if (round === 1 && (await ctx.sessions.quietSince(quiet, ctx.batchId))) break;
    lookedUp = true;
    const keys = [...new Set(outcome.duplicates.map((d) => d._id))];
    const owners = await findOwners(ctx.events, keys);
    for (const owner of new Set(owners.values())) {
      if (owner === ctx.batchId || ctx.committed.has(owner) || pending.has(owner)) continue;
      const status = await ctx.sessions.ownerStatus(owner);
      if (status === 'committed') ctx.committed.add(owner);
      else pending.add(owner);
    }
    docs = outcome.duplicates.filter((d) => !owners.has(d._id));
  }
  // Another upload is about: the next chunk's duplicates are judged against a fresh snapshot.
  return { inserted, quiet: lookedUp ? await ctx.sessions.snapshot() : quiet };
}

/** One pass over the spooled events: inserts what is missing and reports uncommitted owners. */
export async function storePass(ctx: StoreContext, spoolPath: string): Promise<StorePass> {
  const pendingOwners = new Set<string>();
  let inserted = 0;
  // Repeats within the file are dropped here when they are close together. They still count as
  // duplicates, since only inserted events count as new.
  const recent = new RecentKeys(RECENT_CHUNKS);
  // A chunk started before an earlier one's fresh snapshot arrives uses an older one: that is only
  // stricter, since quietSince then covers a longer time.
  let quiet = await ctx.sessions.snapshot();
  await forEachInFlight(readSpool(spoolPath, CHUNK_EVENTS, CHUNK_BYTES), INSERTS_IN_FLIGHT, async (chunk) => {
    ctx.checkAlive();
    // Sequential up to here, so two chunks in flight never share a key (they are within the window).
    const unseen = chunk.filter((event) => recent.firstSeen(event.key));
    recent.endChunk();
    const stored = await storeChunk(ctx, unseen, pendingOwners, quiet);
    inserted += stored.inserted;
    quiet = stored.quiet;
  });
  ctx.checkAlive();
  return { inserted, pendingOwners };
}
