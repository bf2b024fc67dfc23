import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from 'mongodb';
import { DependencyUnavailableError } from '../../errors';
import type { EventLog } from '../../events/eventLog';
import { ChunkWriter } from '../../events/chunkWriter';
import { rawEventsCollection } from '../../events/rawEvents';
import type { Logger } from '../../logging';
import { appendBatchUploaded, recoverLeftovers } from './recoverUploads';
import type { StoreLease, StoreLeases } from './storeLease';
import { storeEvents } from './storeEvents';
import type { CommitFacts, UploadSessions } from './uploadSessions';

/**
 * The UploadBatch command, after the file has been validated into a spool:
 *
 *   take the store lease ─► end sessions left behind ─► open own session ─► insert, slice by slice
 *     ─► decide `commit` ─► append BatchUploaded ─► close session ─► release the lease
 *
 * The states of one upload (README "How an upload becomes a metric" has the same diagram):
 *
 *   validated ──(no turn to store within UPLOAD_STORE_WAIT_MS: 503, nothing stored)
 *     │ store lease taken
 *     ▼
 *   storing (session open; each slice recorded before its first insert)
 *     │ all parts inserted                       │ failure, or the process dies
 *     ▼                                          ▼
 *   commit decided (outcome doc) ───crash───►  purging (outcome `purge`, by this upload, the next
 *     │ BatchUploaded appended     recovery      │  lease holder or the recovery sweep; one
 *     ▼                            appends it    │  deleteMany per slice)
 *   uploaded ─► session closed, lease released   ▼
 *     (then processing ─► completed | failed,  purged ─► session closed (the client got an error;
 *      in the batch-status read model)                   a re-upload stores the file again)
 *
 * Any failure before the commit decision purges the upload's own events (under the lease still),
 * or leaves its session for the next holder to purge when the database is gone. So a re-upload
 * after a crash at any point stores and counts every event exactly once, and pays at most one
 * purge of the dead upload's events first (a bounded delete per 50,000 events). A commit decided
 * whose BatchUploaded did not land is finished by recovery, which also starts its processing.
 */

export interface UploadBatchInput {
  spoolPath: string;
  fileName: string;
  totalRows: number;
  correlationId: string;
  /** Called with the dedupe keys this upload counted as new (a caller sharing one batch among posts). */
  onNewEvents?: (keys: readonly string[]) => void;
}

export interface UploadBatchResult {
  batchId: string;
  newEvents: number;
  duplicates: number;
}

export type UploadBatch = (input: UploadBatchInput) => Promise<UploadBatchResult>;

export interface UploadBatchDeps {
  db: Db;
  eventLog: EventLog;
  sessions: UploadSessions;
  leases: StoreLeases;
  /** How long an upload waits for its turn to store before answering 503. */
  storeWaitMs: number;
  /** Size of the chunks the stored events are cut into for processing (EVENTS_PER_JOB). */
  eventsPerChunk: number;
  logger: Logger;
  /** See UploadRecoveryDeps.processRecovered. */
  processRecovered?: (batchId: string) => Promise<unknown>;
}

const COMMIT_ATTEMPTS = 5;

export function createUploadBatch(deps: UploadBatchDeps): UploadBatch {
  const { eventLog, sessions, logger } = deps;
  const events = rawEventsCollection(deps.db);

  /** Inserts the events and writes their chunks; returns how many were new. */
  async function store(input: UploadBatchInput, batchId: string, lease: StoreLease): Promise<number> {
    const chunks = new ChunkWriter(deps.db, batchId, deps.eventsPerChunk);
    const newEvents = await storeEvents(
      {
        events,
        batchId,
        checkAlive: () => {
          lease.check();
        },
        startSlice: (slice) => sessions.startSlice(batchId, slice),
        chunks,
        onStored: input.onNewEvents,
      },
      input.spoolPath,
    );
    await chunks.flush();
    return newEvents;
  }

  /** Decides `commit` (unless a purger decided first) and appends BatchUploaded, retrying a failed append. */
  async function commit(batchId: string, facts: CommitFacts, lease: StoreLease): Promise<void> {
    lease.check();
    const outcome = await sessions.decide(batchId, 'commit', facts);
    if (outcome.outcome !== 'commit') {
      throw new DependencyUnavailableError(
        'mongo',
        'The upload lost its turn to store events before it could commit; retry it',
      );
    }
    // Decided: from here on the batch is committed whatever happens, so the append is retried; if
    // it still fails, the next holder of the store lease appends it from the outcome document.
    for (let attempt = 1; ; attempt++) {
      try {
        await appendBatchUploaded(eventLog, batchId, facts);
        return;
      } catch (error) {
        if (attempt >= COMMIT_ATTEMPTS) throw error;
        await sleep(200 * attempt);
      }
    }
  }

  /** Deletes this upload's own events after a failure; when that fails too, recovery does it later. */
  async function undo(batchId: string): Promise<void> {
    try {
      const outcome = await sessions.decide(batchId, 'purge', null);
      if (outcome.outcome !== 'purge') return;
      const own = (await sessions.all()).find((s) => s._id === batchId);
      if (own !== undefined) await sessions.purge(own);
      await sessions.close(batchId);
    } catch (error) {
      logger.warn('could not undo a failed upload; it is purged before the next upload stores', {
        batchId,
        err: String(error),
      });
    }
  }

  return async function uploadBatch(input) {
    const batchId = randomUUID();
    const lease = await deps.leases.acquire(batchId, deps.storeWaitMs);
    try {
      await recoverLeftovers({ sessions, eventLog, logger, processRecovered: deps.processRecovered }, lease);
      await sessions.open(batchId, input.fileName, lease.epoch, deps.eventsPerChunk);
      let decided = false;
      try {
        const newEvents = await store(input, batchId, lease);
        const duplicates = input.totalRows - newEvents;
        const facts: CommitFacts = {
          fileName: input.fileName,
          totalRows: input.totalRows,
          newEvents,
          duplicates,
          eventsPerChunk: deps.eventsPerChunk,
          correlationId: input.correlationId,
        };
        decided = true;
        await commit(batchId, facts, lease);
        // Committed: a session left open now only costs the next holder a look at the outcome.
        await sessions
          .close(batchId)
          .then(() => sessions.forgetCommit(batchId))
          .catch((error: unknown) => {
            logger.warn('could not close a committed upload session', { batchId, err: error });
          });
        logger.info('batch uploaded', { batchId, totalRows: input.totalRows, newEvents, duplicates });
        return { batchId, newEvents, duplicates };
      } catch (error) {
        if (!decided) await undo(batchId);
        throw error;
      }
    } finally {
      await lease.release();
    }
  };
}
