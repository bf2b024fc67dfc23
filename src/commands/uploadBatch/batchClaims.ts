import type { Collection, Db } from 'mongodb';
import { rawEventChunks } from '../../events/rawEventChunks';
import { deleteRawEventsOf, rawEventsCollection } from '../../events/rawEvents';
import { isDuplicateKey } from '../../mongo';

/**
 * Batch claims: which uploads are storing right now, and what became of them. States (the diagram
 * in docs/design.md):
 *
 *   storing ──(own events final)──► inserted ──(BatchUploaded appended)──► uploaded
 *      └──(heartbeat expired, failed, or its instance restarted)──► abandoned ──(events deleted)──► collected
 *
 * FerretDB updates are read-modify-write, so two conditional updates of one document can both
 * "win". Hence no transition is an update: the one contested step, storing ─► inserted | abandoned,
 * is the insert of a settlement document under the unique `_id` (exactly one wins); `uploaded` and
 * `collected` are the deletion of the claim document (idempotent). The only update is the holder's
 * own heartbeat, and it has one writer.
 *
 *   state      claim doc   settlement
 *   storing    yes         none
 *   inserted   yes         inserted
 *   uploaded   gone        inserted
 *   abandoned  yes         abandoned
 *   collected  gone        abandoned
 *
 * Settlements without a claim are kept a while (SETTLEMENT_RETENTION_MS), so a reader that found an
 * event of a batch moments before that batch was collected still learns that it was. Every upload
 * that meets duplicates reads them all, so those of uploaded batches (which only a waiter that
 * watches them needs) go sooner; a waiter that finds neither document inserts again, which is safe.
 */

export const BATCH_CLAIMS_COLLECTION = 'upload_batch_claims';
export const CLAIM_SETTLEMENTS_COLLECTION = 'upload_claim_settlements';

export const SETTLEMENT_RETENTION_MS = { abandoned: 60 * 60 * 1000, inserted: 5 * 60 * 1000 };

export interface ClaimDoc {
  _id: string;
  /** The API instance storing it (UPLOAD_INSTANCE_NAME). */
  holder: string;
  heartbeatAt: Date;
  createdAt: Date;
  fileName: string;
  totalRows: number;
  eventsPerChunk: number;
  correlationId: string;
  /** Processing was asked for with the upload: whoever finishes the claim starts it before deleting it. */
  autoProcess?: boolean;
}

export interface SettlementDoc {
  _id: string;
  settledAs: 'inserted' | 'abandoned';
  at: Date;
}

export type ClaimState = 'storing' | 'inserted' | 'uploaded' | 'abandoned' | 'collected' | 'unknown';

export interface ClaimView {
  batchId: string;
  state: ClaimState;
  claim: ClaimDoc | undefined;
  settledAt: Date | undefined;
}

export async function ensureBatchClaimIndexes(db: Db): Promise<void> {
  // Both hold a few documents and are read whole; created up front so no writer creates them mid-upload.
  await db.collection(CLAIM_SETTLEMENTS_COLLECTION).createIndex({ at: 1 }, { name: 'at' }, undefined);
}

function stateOf(claim: ClaimDoc | undefined, settlement: SettlementDoc | undefined): ClaimState {
  if (settlement === undefined) return claim === undefined ? 'unknown' : 'storing';
  if (settlement.settledAs === 'inserted') return claim === undefined ? 'uploaded' : 'inserted';
  return claim === undefined ? 'collected' : 'abandoned';
}

export class BatchClaims {
  private readonly claims: Collection<ClaimDoc>;
  private readonly settlements: Collection<SettlementDoc>;

  constructor(private readonly db: Db) {
    this.claims = db.collection<ClaimDoc>(BATCH_CLAIMS_COLLECTION);
    this.settlements = db.collection<SettlementDoc>(CLAIM_SETTLEMENTS_COLLECTION);
  }

  async open(claim: Omit<ClaimDoc, 'heartbeatAt' | 'createdAt'>): Promise<void> {
    const now = new Date();
    await this.claims.insertOne({ ...claim, heartbeatAt: now, createdAt: now });
  }

  /** Renews the holder's claim; its only writer is the holder. */
  async heartbeat(batchId: string, holder: string): Promise<void> {
    await this.claims.updateOne({ _id: batchId, holder }, { $set: { heartbeatAt: new Date() } });
  }

  /** Decides storing ─► `settledAs` once; returns the settlement that stands (this one or an earlier one). */
  async settle(batchId: string, settledAs: SettlementDoc['settledAs']): Promise<SettlementDoc['settledAs']> {
    return (await this.decide(batchId, settledAs)).settledAs;
  }

  /** As settle, and whether this call made the decision (the one who declares `abandoned` collects). */
  async decide(
    batchId: string,
    settledAs: SettlementDoc['settledAs'],
  ): Promise<{ settledAs: SettlementDoc['settledAs']; won: boolean }> {
    try {
      await this.settlements.insertOne({ _id: batchId, settledAs, at: new Date() });
      return { settledAs, won: true };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const standing = await this.settlements.findOne({ _id: batchId });
    if (standing === null) throw new Error(`batch ${batchId}: its settlement vanished while it was decided`);
    return { settledAs: standing.settledAs, won: false };
  }

  /** Every claim and settlement there is (a few documents), as states. */
  async all(): Promise<ClaimView[]> {
    const [claims, settlements] = await Promise.all([
      this.claims.find({}).toArray(),
      this.settlements.find({}).toArray(),
    ]);
    const byId = new Map(settlements.map((s) => [s._id, s]));
    const views: ClaimView[] = claims.map((c) => ({
      batchId: c._id,
      state: stateOf(c, byId.get(c._id)),
      claim: c,
      settledAt: byId.get(c._id)?.at,
    }));
    const claimed = new Set(claims.map((c) => c._id));
    for (const s of settlements) {
      if (!claimed.has(s._id))
        views.push({ batchId: s._id, state: stateOf(undefined, s), claim: undefined, settledAt: s.at });
    }
    return views;
  }

  /** inserted ─► uploaded, once BatchUploaded is in the log. */
  async markUploaded(batchId: string): Promise<void> {
    await this.claims.deleteOne({ _id: batchId });
  }

  /** Marks an abandoned claim's collector alive (see collectorGone). */
  async touch(batchId: string): Promise<void> {
    await this.claims.updateOne({ _id: batchId }, { $set: { heartbeatAt: new Date() } });
  }

  /**
   * abandoned ─► collected: deletes the batch's events and chunks, then its claim. Only the one
   * collector may run it (see abandonClaim): FerretDB deletes the ids it selected first, so a second
   * collection running late would delete events a waiter inserted again in between.
   */
  async collect(batchId: string): Promise<void> {
    await deleteRawEventsOf(rawEventsCollection(this.db), { batchId });
    await rawEventChunks(this.db).deleteMany({ batchId });
    await this.claims.deleteOne({ _id: batchId });
  }

  /** Settlements of claims long gone: nobody can still be waiting on them. */
  async forgetSettled(now: number): Promise<void> {
    const soonest = Math.min(SETTLEMENT_RETENTION_MS.abandoned, SETTLEMENT_RETENTION_MS.inserted);
    const old = (await this.settlements.find({ at: { $lt: new Date(now - soonest) } }).toArray()).filter(
      (s) => now - s.at.getTime() > SETTLEMENT_RETENTION_MS[s.settledAs],
    );
    const claimed = new Set(
      (await this.claims.find({}, { projection: { _id: 1 } }).toArray()).map((c) => c._id),
    );
    for (const s of old) if (!claimed.has(s._id)) await this.settlements.deleteOne({ _id: s._id });
  }
}

/**
 * A batch collected this long after it was abandoned is taken for collected before the duplicates
 * in question were met (its collection starts within a sweep of the abandonment).
 */
const COLLECTED_WATCH_MS = 10 * 60 * 1000;

/**
 * An abandoned claim whose collector stopped: abandoned and not renewed for `expiryMs`. Only then may
 * someone else collect it.
 */
export function collectorGone(view: ClaimView, now: number, expiryMs: number): boolean {
  const settled = view.settledAt?.getTime() ?? now;
  const beat = view.claim?.heartbeatAt.getTime() ?? now;
  return view.state === 'abandoned' && now - settled > expiryMs && now - beat > expiryMs;
}

/** Events owned by this batch may still be deleted (or were deleted just now): their duplicates are not final. */
export function isUnsettled(view: ClaimView, now: number): boolean {
  if (view.state === 'storing' || view.state === 'abandoned') return true;
  return view.state === 'collected' && now - (view.settledAt?.getTime() ?? 0) < COLLECTED_WATCH_MS;
}
