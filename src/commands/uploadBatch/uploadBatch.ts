import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from 'mongodb';
import { DependencyUnavailableError, ServiceBusyError } from '../../errors';
import type { EventLog } from '../../events/eventLog';
import type { FingerprintOf } from '../../events/userFingerprint';
import { ChunkWriter } from '../../events/chunkWriter';
import { rawEventsCollection } from '../../events/rawEvents';
import { userSuppressions } from '../../events/userSuppressions';
import type { Logger } from '../../logging';
import { retractionStates, unsettledRetractions } from '../batchRetractions';
import { collectorGone, isUnsettled, type BatchClaims } from './batchClaims';
import { ClaimHolder } from './claimHolder';
import type { ChunkJobData } from '../../chunkJobs';
import { processingStartedRecord } from '../processBatch';
import {
  abandonClaim,
  appendBatchUploaded,
  batchUploadedRecord,
  collectAsCollector,
  type CommitFacts,
} from './claimSweep';
import { newSpoolPath, removeSpool } from './spool';
import type { InFlightKeys } from './inFlightKeys';
import { storeEvents, type StoreContext, type StoreResult } from './storeEvents';

/**
 * The UploadBatch command, after the file has been validated into a spool. Uploads store side by
 * side; the claim of each (batchClaims.ts) tells the others whether its events are final:
 *
 *   open claim (storing) ─► insert every part (duplicates of unsettled batches set aside)
 *     ─► chunks flushed ─► inserted (own events final; waits on nobody, so waits form no cycle)
 *     ─► wait until the batches watched settled; re-insert the set-aside events whose owner was
 *        abandoned (repeat) ─► append BatchUploaded with exact counts (and BatchProcessingStarted
 *        after it, then the chunk jobs, when processing was asked) ─► uploaded
 *
 * A failure before `inserted` abandons the claim and collects its events at once (or the sweep
 * does, when the database is gone). A failure after it leaves the claim `inserted`, which the sweep
 * finishes once its heartbeat expired. So a re-upload after a crash at any point stores and counts
 * every event once, and nothing is purged on its path.
 */

export interface UploadBatchInput {
  spoolPath: string;
  fileName: string;
  totalRows: number;
  correlationId: string;
  /** Told the keys this upload counted as new, once it succeeded. */
  onNewEvents?: (keys: readonly string[]) => void;
  /** Told the keys of the events dropped as an erased user's, once it succeeded. */
  onSuppressedEvents?: (keys: readonly string[]) => void;
  /** Start processing the batch once stored (before its claim goes, so a crash leaves it to the sweep). */
  process?: boolean;
}

export interface UploadBatchResult {
  batchId: string;
  newEvents: number;
  duplicates: number;
  /** Events of erased users, dropped (see userSuppressions): neither new nor duplicates. */
  suppressedEvents: number;
  /** Only when `process` was asked: whether processing started (else POST /api/batches/:id/process can). */
  processingStarted?: boolean;
}

export type UploadBatch = (input: UploadBatchInput) => Promise<UploadBatchResult>;

export interface UploadBatchDeps {
  db: Db;
  eventLog: EventLog;
  claims: BatchClaims;
  /** This API instance (UPLOAD_INSTANCE_NAME), written into its claims. */
  instanceName: string;
  /** A claim whose heartbeat is older is abandoned by whoever finds it (UPLOAD_CLAIM_EXPIRY_MS). */
  claimExpiryMs: number;
  /** How long an upload waits for a stalled retraction that holds some of its events (UPLOAD_SETTLE_WAIT_MS). */
  settleWaitMs: number;
  /** Size of the chunks the stored events are cut into for processing (EVENTS_PER_CHUNK). */
  eventsPerChunk: number;
  /** Users' fingerprints for the chunk documents and the suppression check. */
  fingerprintOf: FingerprintOf;
  /** Adds chunk jobs to the processing queue; used when an upload asks for processing. */
  addChunkJobs: (jobs: readonly ChunkJobData[]) => Promise<void>;
  /** The keys this process's uploads in flight inserted (one per process). */
  inFlightKeys: InFlightKeys;
  logger: Logger;
}

const APPEND_ATTEMPTS = 5;
const WATCH_POLL_MS = 200;

export function createUploadBatch(deps: UploadBatchDeps): UploadBatch {
  const { claims, logger } = deps;
  const events = rawEventsCollection(deps.db);
  const { inFlightKeys } = deps;

  /** The other batches whose events may still go away (but those this upload collected itself). */
  async function unsettledOthers(batchId: string, collected: ReadonlySet<string>): Promise<Set<string>> {
    const now = Date.now();
    // A batch being retracted is unsettled too: its events are about to be deleted.
    const [views, retractions] = await Promise.all([claims.all(), unsettledRetractions(deps.db, now)]);
    const ids = [
      ...views.filter((v) => isUnsettled(v, now)).map((v) => v.batchId),
      ...retractions.map((r) => r._id),
    ];
    return new Set(ids.filter((id) => id !== batchId && !collected.has(id)));
  }

  /**
   * Waits until every watched batch is final or gone; true when one was abandoned (its events
   * deleted), so the events set aside must be inserted again. This upload's own events are final
   * by now (`inserted`), so giving up here would answer 503 for events that stay stored and get
   * counted, and the retry would call them all duplicates. So there is no deadline while the
   * others show life: a storing upload finishes or its heartbeat expires and it is abandoned here,
   * a stopped collector is taken over here. Only a retraction whose cleanup shows no life (each
   * API's retraction sweep takes it over) is waited for at most UPLOAD_SETTLE_WAIT_MS, then 503.
   */
  async function awaitWatched(
    watch: ReadonlySet<string>,
    holder: ClaimHolder,
    collected: Set<string>,
  ): Promise<boolean> {
    let stalledSince: number | undefined;
    let reinsert = false;
    const pending = new Set(watch);
    for (;;) {
      const now = Date.now();
      const views = new Map((await claims.all()).map((v) => [v.batchId, v]));
      // Read whatever the claims say: an uploaded batch keeps its claim view for a while.
      const retracting = await retractionStates(deps.db, pending);
      for (const batchId of pending) {
        const view = views.get(batchId);
        const state = view?.state ?? 'unknown';
        const retraction = retracting.get(batchId);
        if (retraction !== undefined) {
          // Being retracted: its events are deleted by the cleanup, after which they go in again.
          if (!retraction.cleaned) continue;
          collected.add(batchId);
          reinsert = true;
          pending.delete(batchId);
        } else if (state === 'inserted' || state === 'uploaded') pending.delete(batchId);
        else if (state === 'storing') {
          const beat = view?.claim?.heartbeatAt.getTime() ?? now;
          if (now - beat <= deps.claimExpiryMs || !(await abandonClaim(claims, batchId, deps.claimExpiryMs)))
            continue;
          collected.add(batchId);
          reinsert = true;
          pending.delete(batchId);
        } else if (state === 'unknown') {
          // Forgotten: settled long ago, one way or the other. Inserting again tells which, and
          // its events are never deleted on a guess.
          reinsert = true;
          pending.delete(batchId);
        } else if (state === 'collected') {
          collected.add(batchId);
          reinsert = true;
          pending.delete(batchId);
        } else if (view !== undefined && collectorGone(view, now, deps.claimExpiryMs)) {
          // Abandoned, and whoever declared it stopped while collecting: collect it in its place.
          await collectAsCollector(claims, batchId, deps.claimExpiryMs);
          collected.add(batchId);
          reinsert = true;
          pending.delete(batchId);
        }
        // Else abandoned and being collected by whoever declared it: inserting again before its
        // collection ended would let that collection delete the events inserted again.
      }
      holder.check();
      if (pending.size === 0) return reinsert;
      const stalled = [...pending].some((batchId) => {
        const retraction = retracting.get(batchId);
        return retraction !== undefined && now - retraction.lastBeat.getTime() > deps.claimExpiryMs;
      });
      stalledSince = stalled ? (stalledSince ?? now) : undefined;
      if (stalledSince !== undefined && Date.now() - stalledSince > deps.settleWaitMs) {
        throw new ServiceBusyError(
          'A retraction of a batch that holds some of these events stopped before deleting them',
          30,
        );
      }
      await sleep(WATCH_POLL_MS);
    }
  }

  /** Appends are keyed, so a retry of one that went in after all changes nothing. */
  async function withRetries(append: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await append();
        return;
      } catch (error) {
        if (attempt >= APPEND_ATTEMPTS) throw error;
        await sleep(200 * attempt);
      }
    }
  }

  /**
   * BatchUploaded with round 1's BatchProcessingStarted right after it (one insert when no other
   * process appends meanwhile), then the round's chunk jobs. What a process call reads first (the
   * batch's history, its chunk documents, the queue) is known here of a batch this upload just
   * stored, and nobody else adds its jobs but the same way (ids are per chunk). True once the jobs
   * are in; if not, the workers' lost-chunk sweep adds them, as after any process call cut short.
   */
  async function appendStartingProcessing(
    batchId: string,
    facts: CommitFacts,
    chunks: number,
  ): Promise<boolean> {
    const { correlationId, newEvents } = facts;
    await withRetries(() =>
      deps.eventLog.appendMany([
        batchUploadedRecord(batchId, facts),
        processingStartedRecord(batchId, 1, chunks, newEvents, correlationId),
      ]),
    );
    try {
      await deps.addChunkJobs(
        Array.from({ length: chunks }, (_, chunk) => ({ batchId, chunk, round: 1, correlationId })),
      );
      logger.info('batch processing requested', { batchId, round: 1, chunks, jobsEnqueued: chunks });
      return true;
    } catch (error) {
      logger.warn(
        'could not enqueue a stored batch; the lost-chunk sweep or POST /api/batches/:id/process can',
        {
          correlationId,
          batchId,
          err: String(error),
        },
      );
      return false;
    }
  }

  /** After a failure before `inserted`: nobody may count on these events, so they go at once. */
  async function abandon(batchId: string): Promise<void> {
    try {
      await abandonClaim(claims, batchId, deps.claimExpiryMs);
    } catch (error) {
      logger.warn('could not collect a failed upload; the claim sweep does it', {
        batchId,
        err: String(error),
      });
    }
  }

  return async function uploadBatch(input) {
    const batchId = randomUUID();
    await claims.open({
      _id: batchId,
      holder: deps.instanceName,
      fileName: input.fileName,
      totalRows: input.totalRows,
      eventsPerChunk: deps.eventsPerChunk,
      correlationId: input.correlationId,
      autoProcess: input.process === true,
    });
    const holder = new ClaimHolder(claims, batchId, deps.instanceName, deps.claimExpiryMs, logger);
    const newKeys: string[] = [];
    const suppressedKeys: string[] = [];
    const spools: string[] = [];
    const deferredPath = (): string => {
      const path = newSpoolPath(dirname(input.spoolPath));
      spools.push(path);
      return path;
    };
    const chunks = new ChunkWriter(deps.db, batchId, deps.eventsPerChunk);
    // Batches whose collection this upload saw to the end: their events are gone for good.
    const collected = new Set<string>();
    const ctx: StoreContext = {
      events,
      batchId,
      checkAlive: () => {
        holder.check();
      },
      unsettledBatches: () => unsettledOthers(batchId, collected),
      chunks,
      fingerprintOf: deps.fingerprintOf,
      suppressions: userSuppressions(deps.db),
      deferredPath: deferredPath(),
      partsInserted: 0,
      insertedElsewhere: (key) => {
        const owner = inFlightKeys.ownerOf(key);
        // A batch this upload saw collected has lost its events: they go to the database again.
        return owner === batchId || (owner !== undefined && collected.has(owner)) ? undefined : owner;
      },
      onInserted: (keys) => {
        inFlightKeys.inserted(batchId, keys);
        if (input.onNewEvents !== undefined) newKeys.push(...keys);
      },
      onSuppressed:
        input.onSuppressedEvents === undefined ? undefined : (keys) => suppressedKeys.push(...keys),
    };
    inFlightKeys.begin(batchId);
    try {
      let round: StoreResult;
      try {
        round = await storeEvents(ctx, input.spoolPath);
        await chunks.flush();
        holder.check();
        if ((await claims.settle(batchId, 'inserted')) !== 'inserted') {
          throw new DependencyUnavailableError(
            'mongo',
            'The upload was taken for dead before it finished; retry it',
          );
        }
      } catch (error) {
        holder.stop();
        await abandon(batchId);
        throw error;
      }
      let newEvents = round.inserted;
      let suppressedEvents = round.suppressed;
      while (round.deferred > 0 && (await awaitWatched(round.watch, holder, collected))) {
        const setAside = ctx.deferredPath;
        ctx.deferredPath = deferredPath();
        round = await storeEvents(ctx, setAside);
        await chunks.flush();
        newEvents += round.inserted;
        suppressedEvents += round.suppressed;
      }
      holder.check();
      const duplicates = input.totalRows - newEvents - suppressedEvents;
      const { fileName, totalRows, correlationId } = input;
      const facts: CommitFacts = {
        fileName,
        totalRows,
        newEvents,
        duplicates,
        eventsPerChunk: deps.eventsPerChunk,
        correlationId,
      };
      let processingStarted: boolean | undefined;
      if (input.process === true)
        processingStarted = await appendStartingProcessing(batchId, facts, chunks.count);
      else await withRetries(() => appendBatchUploaded(deps.eventLog, batchId, facts));
      holder.stop();
      // BatchUploaded is in the log: a claim left behind only costs the sweep a look, so the
      // answer does not wait for this. Marked only once processing was requested: a claim still
      // `inserted` tells the sweep of a process that died in between to request it (claimSweep
      // `finish`).
      void claims.markUploaded(batchId).catch((error: unknown) => {
        logger.warn('could not mark an upload uploaded', { batchId, err: String(error) });
      });
      input.onNewEvents?.(newKeys);
      input.onSuppressedEvents?.(suppressedKeys);
      logger.info('batch uploaded', { batchId, totalRows, newEvents, duplicates, suppressedEvents });
      return {
        batchId,
        newEvents,
        duplicates,
        suppressedEvents,
        ...(processingStarted === undefined ? {} : { processingStarted }),
      };
    } finally {
      inFlightKeys.end(batchId);
      holder.stop();
      await Promise.all(spools.map((path) => removeSpool(path)));
    }
  };
}
