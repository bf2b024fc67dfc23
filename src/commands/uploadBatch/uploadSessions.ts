import type { Collection, Db } from 'mongodb';
import { rawEventChunks, CHUNKS_PER_SLICE } from '../../events/rawEventChunks';
import { rawEventsCollection } from '../../events/rawEvents';
import { isDuplicateKey } from '../../mongo';

/**
 * One session document per upload that has started storing and not yet finished (committed, or
 * undone). It records how far the upload got, so that whoever finds it left behind can purge
 * exactly its events by (batchId, slice), a bounded delete per slice, without reading them first.
 *
 * Whether a batch commits or is purged is decided once, by inserting its outcome document
 * (`_id` = batchId): the upload inserts `commit` before appending BatchUploaded, a purger inserts
 * `purge` before deleting. The unique `_id` lets only one of them exist, so a slow upload can
 * never commit events that a purger is deleting.
 */

export const UPLOAD_SESSIONS_COLLECTION = 'upload_sessions';
export const UPLOAD_OUTCOMES_COLLECTION = 'upload_outcomes';

/**
 * Events per insertMany. With two in flight, 95,000 events took 2.6-2.8 s in batches of 250 or 500,
 * 2.0-2.4 s in 1,000, 2.0 s in 2,000 and 2.1 s in 5,000 (FerretDB on PostgreSQL): 1,000 is as fast
 * as larger batches while holding less per insert.
 */
export const PART_EVENTS = 1000;

/**
 * Insert parts per slice. Parts hold at most 1,000 events, so a slice at most 50,000: FerretDB
 * deletes what a filter matched with one statement naming every id, and PostgreSQL accepts at
 * most 65,535 parameters in one statement.
 */
export const PARTS_PER_SLICE = 50;

export interface SessionDoc {
  _id: string;
  fileName: string;
  createdAt: Date;
  /** The store-lease epoch the upload stored under. */
  epoch: number;
  eventsPerChunk: number;
  /** Slices started (written before the first insert of each). */
  slices: number;
  purgedSlices: number;
  purgeError: string | null;
  purgeFailedAt: Date | null;
}

/** What BatchUploaded says; kept with the `commit` outcome so a commit cut short can be finished. */
export interface CommitFacts {
  fileName: string;
  totalRows: number;
  newEvents: number;
  duplicates: number;
  eventsPerChunk: number;
  correlationId: string;
}

export interface OutcomeDoc {
  _id: string;
  outcome: 'commit' | 'purge';
  at: Date;
  commit: CommitFacts | null;
}

export async function ensureUploadSessionIndexes(db: Db): Promise<void> {
  // Both collections hold a few documents and are read whole or by `_id`; created up front so no
  // writer creates them mid-upload (see ensureCollections).
  await db
    .collection(UPLOAD_SESSIONS_COLLECTION)
    .createIndex({ createdAt: 1 }, { name: 'created' }, undefined);
  await db.collection(UPLOAD_OUTCOMES_COLLECTION).createIndex({ at: 1 }, { name: 'at' }, undefined);
}

export class UploadSessions {
  private readonly sessions: Collection<SessionDoc>;
  private readonly outcomes: Collection<OutcomeDoc>;

  constructor(private readonly db: Db) {
    this.sessions = db.collection<SessionDoc>(UPLOAD_SESSIONS_COLLECTION);
    this.outcomes = db.collection<OutcomeDoc>(UPLOAD_OUTCOMES_COLLECTION);
  }

  async open(batchId: string, fileName: string, epoch: number, eventsPerChunk: number): Promise<void> {
    await this.sessions.insertOne({
      _id: batchId,
      fileName,
      createdAt: new Date(),
      epoch,
      eventsPerChunk,
      slices: 0,
      purgedSlices: 0,
      purgeError: null,
      purgeFailedAt: null,
    });
  }

  /** Written before the slice's first insert, so a purge always covers every stored event. */
  async startSlice(batchId: string, slice: number): Promise<void> {
    await this.sessions.updateOne({ _id: batchId }, { $set: { slices: slice + 1 } });
  }

  all(): Promise<SessionDoc[]> {
    return this.sessions.find({}).toArray();
  }

  /** Decides the batch's outcome once; returns the outcome that stands (this one, or an earlier one). */
  async decide(
    batchId: string,
    outcome: OutcomeDoc['outcome'],
    commit: CommitFacts | null,
  ): Promise<OutcomeDoc> {
    const doc: OutcomeDoc = { _id: batchId, outcome, at: new Date(), commit };
    try {
      await this.outcomes.insertOne(doc);
      return doc;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const standing = await this.outcomes.findOne({ _id: batchId });
    if (standing === null) throw new Error(`upload ${batchId}: its outcome vanished while it was decided`);
    return standing;
  }

  /** Deletes the events and chunks of an upload whose outcome is `purge`, a slice at a time, resumably. */
  async purge(session: SessionDoc): Promise<void> {
    const events = rawEventsCollection(this.db);
    for (let slice = session.purgedSlices; slice < session.slices; slice++) {
      await events.deleteMany({ batchId: session._id, slice });
      await this.sessions.updateOne({ _id: session._id }, { $set: { purgedSlices: slice + 1 } });
    }
    const maxEvents = session.slices * PARTS_PER_SLICE * PART_EVENTS;
    const chunkSlices = Math.ceil(maxEvents / session.eventsPerChunk / CHUNKS_PER_SLICE);
    const chunks = rawEventChunks(this.db);
    for (let slice = 0; slice < chunkSlices; slice++)
      await chunks.deleteMany({ batchId: session._id, slice });
  }

  async recordPurgeFailure(batchId: string, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    await this.sessions.updateOne(
      { _id: batchId },
      { $set: { purgeError: reason.slice(0, 500), purgeFailedAt: new Date() } },
    );
  }

  /** The session is done with: committed (BatchUploaded is in the log) or purged. */
  async close(batchId: string): Promise<void> {
    await this.sessions.deleteOne({ _id: batchId });
  }

  /** A `commit` outcome is only needed until its session is closed; `purge` ones stay for the record. */
  async forgetCommit(batchId: string): Promise<void> {
    await this.outcomes.deleteOne({ _id: batchId, outcome: 'commit' });
  }
}
