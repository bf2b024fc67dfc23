import type { Collection, Db } from 'mongodb';
import type { EventLog } from '../../events/eventLog';
import { rawEventsCollection } from '../../events/rawEvents';

/**
 * One document per upload that is storing events and has not yet appended BatchUploaded. Its
 * lease is renewed while the upload runs; a session whose lease has run out belongs to an upload
 * that died (process crash, database gone during its clean-up), and anyone may purge its events.
 */

export const UPLOAD_SESSIONS_COLLECTION = 'upload_sessions';

/** `inserting`: still writing events. `waiting`: every event written, only the commit is left. */
export type SessionState = 'inserting' | 'waiting';

interface SessionDoc {
  _id: string;
  state: SessionState;
  fileName: string;
  createdAt: Date;
  leaseUntil: Date;
}

/** What a batch that owns some stored event is, seen from another upload. */
export type OwnerStatus = 'committed' | 'inserting' | 'waiting' | 'dead';

export async function ensureUploadSessionIndexes(db: Db): Promise<void> {
  await db
    .collection<SessionDoc>(UPLOAD_SESSIONS_COLLECTION)
    .createIndex({ leaseUntil: 1 }, { name: 'lease' });
}

export class UploadSessions {
  private readonly sessions: Collection<SessionDoc>;

  constructor(
    private readonly db: Db,
    private readonly eventLog: EventLog,
    readonly leaseMs: number,
  ) {
    this.sessions = db.collection<SessionDoc>(UPLOAD_SESSIONS_COLLECTION);
  }

  async open(batchId: string, fileName: string): Promise<void> {
    const now = Date.now();
    await this.sessions.insertOne({
      _id: batchId,
      state: 'inserting',
      fileName,
      createdAt: new Date(now),
      leaseUntil: new Date(now + this.leaseMs),
    });
  }

  /** Extends the lease; false when the session is gone (another upload judged it dead). */
  async renew(batchId: string, state?: SessionState): Promise<boolean> {
    const set: Partial<SessionDoc> = { leaseUntil: new Date(Date.now() + this.leaseMs) };
    if (state !== undefined) set.state = state;
    const result = await this.sessions.updateOne({ _id: batchId }, { $set: set });
    return result.matchedCount === 1;
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
    if (session !== null && session.leaseUntil.getTime() > Date.now()) return session.state;
    return (await this.isCommitted(batchId)) ? 'committed' : 'dead';
  }

  /** Deletes the events of a batch that never committed, then its session. */
  async purge(batchId: string): Promise<void> {
    const taken = await this.sessions.deleteOne({ _id: batchId, leaseUntil: { $lt: new Date() } });
    if (
      taken.deletedCount === 0 &&
      (await this.sessions.countDocuments({ _id: batchId }, { limit: 1 })) > 0
    ) {
      return; // renewed in the meantime: alive after all
    }
    if (await this.isCommitted(batchId)) return;
    await rawEventsCollection(this.db).deleteMany({ batchId });
  }

  /** Undoes this process's own failed upload: its events first, so a crash in between leaves a session to expire. */
  async abandon(batchId: string): Promise<void> {
    if (await this.isCommitted(batchId)) {
      await this.close(batchId);
      return;
    }
    await rawEventsCollection(this.db).deleteMany({ batchId });
    await this.close(batchId);
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
