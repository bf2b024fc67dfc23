import { startPeriodicSweep } from '../periodicSweep';
import { batchKeys, batchStream } from '../../events/batchHistory';
import { rebuildChunks } from '../../events/deriveChunks';
import { BatchRetractedError } from '../../errors';
import type { EventLog, NewRecord } from '../../events/eventLog';
import type { FingerprintOf } from '../../events/userFingerprint';
import type { Db } from 'mongodb';
import type { Logger } from '../../logging';
import { collectorGone, type BatchClaims, type ClaimDoc, type ClaimView } from './batchClaims';

/**
 * What dead uploads leave, resolved in the background (a sweep in every API process, run once at
 * its start): expired `storing` claims are declared abandoned, abandoned ones collected, and an
 * `inserted` one whose holder died is finished. Each step is idempotent, so sweeps of several API
 * processes may meet on one claim. No upload waits for the sweep: it only bounds what is left.
 */

export interface CommitFacts {
  fileName: string;
  totalRows: number;
  newEvents: number;
  duplicates: number;
  eventsPerChunk: number;
  correlationId: string;
}

export interface ClaimSweepDeps {
  db: Db;
  claims: BatchClaims;
  eventLog: EventLog;
  logger: Logger;
  /** This API instance (UPLOAD_INSTANCE_NAME): its claims from before `startedAt` are its previous life's. */
  instanceName: string;
  startedAt: number;
  expiryMs: number;
  /** Users' fingerprints, for the chunks of an upload finished from its raw events. */
  fingerprintOf: FingerprintOf;
  /**
   * Starts processing a batch the sweep finished. Its upload answered with an error, so no client
   * knows its id to process it; once its BatchUploaded is in the log the workers' sweep would too.
   */
  processRecovered?: (batchId: string) => Promise<unknown>;
}

/** Claims acted on per sweep, so one tick stays bounded; the next tick takes the rest. */
const CLAIMS_PER_SWEEP = 20;

/** The commit point of an upload, keyed by its batch: appending it again changes nothing. */
export function batchUploadedRecord(batchId: string, facts: CommitFacts): NewRecord<'BatchUploaded'> {
  const { correlationId, ...data } = facts;
  return {
    type: 'BatchUploaded',
    key: batchKeys.uploaded(batchId),
    streamId: batchStream(batchId),
    data: { batchId, ...data },
    correlationId,
  };
}

/** Idempotent, so a commit cut short can be finished by anyone. */
export async function appendBatchUploaded(
  eventLog: EventLog,
  batchId: string,
  facts: CommitFacts,
): Promise<void> {
  await eventLog.append(batchUploadedRecord(batchId, facts));
}

/**
 * Collects an abandoned claim as its one collector, renewing the claim while it deletes so that
 * nobody takes the collector for stopped (collectorGone) and collects beside it.
 */
export async function collectAsCollector(
  claims: BatchClaims,
  batchId: string,
  expiryMs: number,
): Promise<void> {
  await claims.touch(batchId);
  const renewal = setInterval(
    () => {
      claims.touch(batchId).catch(() => undefined);
    },
    Math.max(100, Math.floor(expiryMs / 4)),
  );
  try {
    await claims.collect(batchId);
  } finally {
    clearInterval(renewal);
  }
}

/**
 * Declares a claim abandoned unless it settled first. The one who declares it collects it: every
 * other party waits for the claim to be gone (or for its collector to stop: collectorGone). True
 * when this call declared and collected it.
 */
export async function abandonClaim(claims: BatchClaims, batchId: string, expiryMs: number): Promise<boolean> {
  // Only the call that made the decision collects: a second collection beside it could delete
  // events inserted again after the first one ended.
  const decision = await claims.decide(batchId, 'abandoned');
  if (!decision.won) return false;
  await collectAsCollector(claims, batchId, expiryMs);
  return true;
}

async function startProcessing(deps: ClaimSweepDeps, batchId: string): Promise<void> {
  await deps.processRecovered?.(batchId).catch((error: unknown) => {
    // Retracted meanwhile: nothing of it is to be processed.
    if (error instanceof BatchRetractedError) return;
    deps.logger.warn('could not start processing a finished upload; process it by hand', {
      batchId,
      err: String(error),
    });
  });
}

async function finish(deps: ClaimSweepDeps, claim: ClaimDoc): Promise<void> {
  // Appended already (only the claim's deletion was missed): its chunks may be processing, keep them;
  // processing asked for with the upload may not have started (starting it again is a no-op).
  if ((await deps.eventLog.findByKey(batchKeys.uploaded(claim._id))) !== undefined) {
    if (claim.autoProcess === true) await startProcessing(deps, claim._id);
    await deps.claims.markUploaded(claim._id);
    return;
  }
  const newEvents = await rebuildChunks(deps.db, claim._id, claim.eventsPerChunk, deps.fingerprintOf);
  await appendBatchUploaded(deps.eventLog, claim._id, {
    fileName: claim.fileName,
    totalRows: Math.max(claim.totalRows, newEvents),
    newEvents,
    duplicates: Math.max(0, claim.totalRows - newEvents),
    eventsPerChunk: claim.eventsPerChunk,
    correlationId: claim.correlationId,
  });
  await startProcessing(deps, claim._id);
  await deps.claims.markUploaded(claim._id);
}

async function resolve(deps: ClaimSweepDeps, view: ClaimView, now: number): Promise<boolean> {
  const claim = view.claim;
  if (claim === undefined) return false;
  const earlierLife = claim.holder === deps.instanceName && claim.createdAt.getTime() < deps.startedAt;
  const dead = earlierLife || now - claim.heartbeatAt.getTime() > deps.expiryMs;
  const facts = { batchId: claim._id, fileName: claim.fileName, holder: claim.holder };
  if (view.state === 'storing' && dead) {
    if (await abandonClaim(deps.claims, claim._id, deps.expiryMs))
      deps.logger.info('collected an abandoned upload', facts);
    return true;
  }
  if (collectorGone(view, now, deps.expiryMs)) {
    await collectAsCollector(deps.claims, claim._id, deps.expiryMs);
    deps.logger.info('collected an abandoned upload', facts);
    return true;
  }
  if (view.state === 'inserted' && dead) {
    await finish(deps, claim);
    deps.logger.info('finished an upload whose holder stopped', facts);
    return true;
  }
  return false;
}

/** One pass over the claims. */
export async function sweepClaims(deps: ClaimSweepDeps): Promise<void> {
  const now = Date.now();
  let acted = 0;
  for (const view of await deps.claims.all()) {
    if (acted >= CLAIMS_PER_SWEEP) break;
    if (await resolve(deps, view, now)) acted += 1;
  }
  await deps.claims.forgetSettled(now);
}

/** Sweeps once now (freeing what this instance held before a restart) and then every `intervalMs`. */
export function startClaimSweep(deps: ClaimSweepDeps & { intervalMs: number }): { stop(): void } {
  return startPeriodicSweep(() => sweepClaims(deps), {
    intervalMs: deps.intervalMs,
    logger: deps.logger,
    failure: 'could not resolve the claims of stopped uploads',
  });
}
