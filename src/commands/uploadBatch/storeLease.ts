import { setTimeout as sleep } from 'node:timers/promises';
import type { Collection, Db } from 'mongodb';
import { DependencyUnavailableError, ServiceBusyError } from '../../errors';
import type { Logger } from '../../logging';
import { isDuplicateKey } from '../../mongo';
import { currentProcess, holderState, sameProcess, type ProcessIdentity } from './processIdentity';

/**
 * The store lease: one upload at a time inserts raw events, across every API process. With no other
 * upload inserting, every event already stored belongs to a committed batch or to an upload that
 * died, and dead uploads are purged before the next one stores, so no upload ever needs to read
 * another's events or wait on their owner.
 *
 * Each taking of the lease inserts the next epoch document (`_id` = epoch): the unique `_id` lets
 * exactly one taker win, which a conditional update cannot promise on FerretDB (its updates are
 * read-modify-write). Only the holder writes its own epoch afterwards (renewals, release).
 * A lease is free once released, expired, or held by a process this machine knows to be dead.
 */

export const STORE_LEASES_COLLECTION = 'upload_store_leases';

export interface EpochDoc {
  _id: number;
  owner: string;
  holder: ProcessIdentity;
  until: Date;
  released: boolean;
}

/** Epochs kept for the record; older ones are deleted when a new one is taken. */
const KEPT_EPOCHS = 20;
const POLL_MS = 100;

export interface StoreLease {
  readonly epoch: number;
  /** Throws when the lease may have passed to another upload: stop writing. */
  check(): void;
  release(): Promise<void>;
}

/**
 * The epochs this process holds right now, per database. A fact about the process itself, so one set
 * for it whatever objects ask (the uploads, the recovery sweep, /health): a set per StoreLeases
 * would let the sweep take the turn of an upload of the same process.
 */
const heldHere = new Set<string>();

export class StoreLeases {
  private readonly epochs: Collection<EpochDoc>;
  private readonly self = currentProcess();
  private readonly db: string;

  constructor(
    db: Db,
    readonly leaseMs: number,
    private readonly logger: Logger,
  ) {
    this.epochs = db.collection<EpochDoc>(STORE_LEASES_COLLECTION);
    this.db = db.databaseName;
  }

  /** The epochs kept (the last few), oldest first. */
  async all(): Promise<EpochDoc[]> {
    // A handful of documents: reading them all is cheaper on FerretDB than a sorted query.
    return (await this.epochs.find({}).toArray()).sort((a, b) => a._id - b._id);
  }

  /** The newest epoch: the lease as it stands (held or not). */
  async current(): Promise<EpochDoc | null> {
    return (await this.all()).at(-1) ?? null;
  }

  /**
   * Free once released, expired, or held by a process known to be dead, or by this very process
   * when none of its uploads holds it any more (one that failed with the database down could not
   * write its release; waiting out its lease would only delay the retry).
   *
   * An upload of this very process that still holds it keeps it past its expiry: on a loaded
   * machine a renewal can land late, and then the recovery sweep or a waiting upload of the same
   * process took the turn of an upload that was still storing and purged it just before it
   * committed. The holder stops itself once its renewals stop landing (StoreLease.check), so only
   * one stuck in a call that never returns keeps it, and that one loses it a lease length later.
   */
  isFree(doc: EpochDoc | null, now = Date.now()): boolean {
    if (doc === null || doc.released) return true;
    const until = doc.until.getTime();
    if (sameProcess(doc.holder, this.self)) {
      if (!heldHere.has(`${this.db}:${doc._id}`)) return true;
      return until + this.leaseMs < now;
    }
    return until < now || holderState(doc.holder, this.self) === 'dead';
  }

  /** Takes the lease if it is free now; undefined when another upload holds it. */
  async tryAcquire(owner: string): Promise<StoreLease | undefined> {
    const current = await this.current();
    if (!this.isFree(current)) return undefined;
    const epoch = (current?._id ?? 0) + 1;
    const started = Date.now();
    try {
      await this.epochs.insertOne({
        _id: epoch,
        owner,
        holder: this.self,
        until: new Date(started + this.leaseMs),
        released: false,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return undefined;
      throw error;
    }
    this.epochs.deleteMany({ _id: { $lt: epoch - KEPT_EPOCHS } }).catch(() => undefined);
    return this.held(epoch, started);
  }

  /** Waits for the lease, at most `waitMs`; throws ServiceBusyError when it stays taken. */
  async acquire(owner: string, waitMs: number): Promise<StoreLease> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const lease = await this.tryAcquire(owner);
      if (lease !== undefined) return lease;
      if (Date.now() > deadline) {
        throw new ServiceBusyError(
          `Other uploads are being stored and this one waited ${Math.round(waitMs / 1000)} s for its turn; retry it`,
          10,
        );
      }
      await sleep(POLL_MS);
    }
  }

  private held(epoch: number, takenAt: number): StoreLease {
    heldHere.add(`${this.db}:${epoch}`);
    const { leaseMs, epochs, logger } = this;
    // Writes stop well before the lease could be judged expired elsewhere.
    let validUntil = takenAt + leaseMs * 0.75;
    let lost = false;
    let renewing = false;
    const renew = async (): Promise<void> => {
      const started = Date.now();
      const result = await epochs.updateOne(
        { _id: epoch, released: false },
        { $set: { until: new Date(started + leaseMs) } },
      );
      const newest = await this.current();
      if (result.matchedCount !== 1 || newest?._id !== epoch) lost = true;
      else validUntil = Math.max(validUntil, started + leaseMs * 0.75);
    };
    const timer = setInterval(
      () => {
        if (renewing || lost) return;
        renewing = true;
        renew()
          .catch((error: unknown) => {
            logger.debug('store lease renewal failed', { epoch, err: String(error) });
          })
          .finally(() => {
            renewing = false;
          });
      },
      Math.max(50, Math.floor(leaseMs / 4)),
    );
    timer.unref();
    return {
      epoch,
      check() {
        if (lost || Date.now() > validUntil) {
          lost = true;
          throw new DependencyUnavailableError(
            'mongo',
            'The upload lost its turn to store events (the database was too slow or unreachable); retry it',
          );
        }
      },
      release: async () => {
        clearInterval(timer);
        heldHere.delete(`${this.db}:${epoch}`);
        await epochs
          .updateOne({ _id: epoch }, { $set: { released: true, until: new Date() } })
          .catch((error: unknown) => {
            logger.warn('could not release the store lease; it expires by itself', {
              epoch,
              err: String(error),
            });
          });
      },
    };
  }
}
