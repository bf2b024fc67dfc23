import type { Collection, Db } from 'mongodb';
import type { EventLog } from '../../events/eventLog';
import { deleteChunks } from '../../events/rawEventChunks';
import { rawEventsCollection } from '../../events/rawEvents';

/**
 * One document per upload that is storing events and has not yet appended BatchUploaded. Its
 * lease is renewed while the upload runs; a session whose lease has run out belongs to an upload
 * that died (process crash, database gone during its clean-up), and anyone may purge its events.
 *
 * Invariant: a stored event's batch has either committed or still has a session. A session is
 * opened before its first insert and removed only after commit or after its events are deleted,
 * so an upload that saw no other session can count every duplicate as committed (see `quietSince`).
 */

export const UPLOAD_SESSIONS_COLLECTION = 'upload_sessions';
/** One counter document: how many sessions were ever opened. */
export const UPLOAD_SESSION_COUNTER_COLLECTION = 'upload_session_counter';
const COUNTER_ID = 'opened';

/**
 * `inserting`: still writing events. `waiting`: every event written, only the commit is left.
 * `purging`: the lease ran out and another upload is deleting its events; it can never renew.
 */
export type SessionState = LiveSessionState | 'purging';
export type LiveSessionState = 'inserting' | 'waiting';

/** Which other uploads could own events at a point in time: see `quietSince`. */
export interface SessionsSnapshot {
  opened: number;
  openIds: string[];
}

interface SessionDoc {
  _id: string;
  state: SessionState;
  fileName: string;
  createdAt: Date;
  leaseUntil: Date;
}

/** What a batch that owns some stored event is, seen from another upload. */
export type OwnerStatus = 'committed' | 'inserting' | 'waiting' | 'dead';

interface CounterDoc {
  _id: string;
  count: number;
}

export async function ensureUploadSessionIndexes(db: Db): Promise<void> {
  await db
    .collection<SessionDoc>(UPLOAD_SESSIONS_COLLECTION)
    .createIndex({ leaseUntil: 1 }, { name: 'lease' });
}

export class UploadSessions {
  private readonly sessions: Collection<SessionDoc>;
  private readonly counter: Collection<CounterDoc>;

  constructor(
    private readonly db: Db,
    private readonly eventLog: EventLog,
    readonly leaseMs: number,
  ) {
    this.sessions = db.collection<SessionDoc>(UPLOAD_SESSIONS_COLLECTION);
    this.counter = db.collection<CounterDoc>(UPLOAD_SESSION_COUNTER_COLLECTION);
  }

  async open(batchId: string, fileName: string): Promise<void> {
    // Counted before the session exists, so a snapshot taken earlier sees the counter move.
    await this.counter.updateOne({ _id: COUNTER_ID }, { $inc: { count: 1 } }, { upsert: true });
    const now = Date.now();
    await this.sessions.insertOne({
      _id: batchId,
      state: 'inserting',
      fileName,
      createdAt: new Date(now),
      leaseUntil: new Date(now + this.leaseMs),
    });
  }

  /** Extends the lease; false when the session is gone or being purged (judged dead). */
  async renew(batchId: string, state?: LiveSessionState): Promise<boolean> {
    const set: Partial<SessionDoc> = { leaseUntil: new Date(Date.now() + this.leaseMs) };
    if (state !== undefined) set.state = state;
    const result = await this.sessions.updateOne({ _id: batchId, state: { $ne: 'purging' } }, { $set: set });
    return result.matchedCount === 1;
  }

  /** The sessions counter, then the open sessions. */
  async snapshot(): Promise<SessionsSnapshot> {
    const opened = await this.openedCount();
    const open = await this.sessions.find({}, { projection: { _id: 1 } }).toArray();
    return { opened, openIds: open.map((s) => s._id) };
  }

  /**
   * True when no upload but `self` can have had a session at any moment since `snapshot` was
   * taken: none was open then and none has been opened since. Every event that another batch
   * owned in that time therefore belongs to a committed batch (the invariant above).
   */
  async quietSince(snapshot: SessionsSnapshot, self: string): Promise<boolean> {
    if (snapshot.openIds.some((id) => id !== self)) return false;
    return (await this.openedCount()) === snapshot.opened;
  }

  private async openedCount(): Promise<number> {
    return (await this.counter.findOne({ _id: COUNTER_ID }))?.count ?? 0;
  }

  async close(batchId: string): Promise<void> {
    await this.sessions.deleteOne({ _id: batchId });
  }

  private isCommitted(batchId: string): Promise<boolean> {
    return this.eventLog.findByKey(`BatchUploaded:${batchId}`).then((r) => r !== undefined);
  }

  /**
   * The session is read before the log: a batch appends BatchUploaded before it closes its
   * session, so "no session and no BatchUploaded" really means it will never commit.
   */
  async ownerStatus(batchId: string): Promise<OwnerStatus> {
    const session = await this.sessions.findOne({ _id: batchId });
    if (session !== null && session.state !== 'purging' && session.leaseUntil.getTime() > Date.now()) {
      return session.state;
    }
    return (await this.isCommitted(batchId)) ? 'committed' : 'dead';
  }

  /**
   * Deletes the events of a batch that never committed, in two visits. The first marks the
   * session `purging` (its owner can no longer renew it), gives it one more lease of grace for
   * inserts the dead upload still had in flight, and deletes its events. A visit after the grace
   * (`purgeExpired` finds it) deletes them again and only then removes the session, so the
   * invariant above holds even if a purge stops half-way.
   */
  async purge(batchId: string): Promise<void> {
    const now = Date.now();
    await this.sessions.updateOne(
      { _id: batchId, state: { $ne: 'purging' }, leaseUntil: { $lt: new Date(now) } },
      { $set: { state: 'purging', leaseUntil: new Date(now + this.leaseMs) } },
    );
    const session = await this.sessions.findOne({ _id: batchId });
    if (session !== null && session.state !== 'purging') return; // renewed in the meantime: alive
    const committed = await this.isCommitted(batchId);
    if (!committed) await this.deleteStored(batchId);
    if (committed || session === null || session.leaseUntil.getTime() < now) await this.close(batchId);
  }

  /** Undoes this process's own failed upload: its events first, so a crash in between leaves a session to expire. */
  async abandon(batchId: string): Promise<void> {
    if (await this.isCommitted(batchId)) {
      await this.close(batchId);
      return;
    }
    await this.deleteStored(batchId);
    await this.close(batchId);
  }

  /** The events of a batch that will never commit, and the chunks cut from them. */
  private async deleteStored(batchId: string): Promise<void> {
    await rawEventsCollection(this.db).deleteMany({ batchId });
    await deleteChunks(this.db, batchId);
  }

  /** Purges uploads whose lease ran out; cheap when there are none, so every upload calls it first. */
  async purgeExpired(limit = 20): Promise<number> {
    const expired = await this.sessions
      .find({ leaseUntil: { $lt: new Date() } }, { projection: { _id: 1 }, limit })
      .toArray();
    for (const { _id } of expired) await this.purge(_id);
    return expired.length;
  }
}
