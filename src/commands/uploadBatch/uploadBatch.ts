import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from 'mongodb';
import type { EventLog } from '../../events/eventLog';
import { ChunkWriter } from '../../events/rawEventChunks';
import { rawEventsCollection } from '../../events/rawEvents';
import type { Logger } from '../../logging';
import { Lease } from './lease';
import { storePass, type StoreContext } from './storeEvents';
import type { UploadSessions } from './uploadSessions';

/**
 * The UploadBatch command, after the file has been validated into a spool: stores its events
 * under a new batch id and commits them by appending BatchUploaded.
 *
 * Failure handling: events are inserted under a leased upload session; until BatchUploaded is in
 * the log they are not committed. On any error the upload deletes its own events; if it cannot
 * (database gone), its lease runs out and the next upload purges them. Duplicates owned by an
 * upload still inserting are only counted once that upload commits; if it dies instead, its
 * events are purged and stored again under this batch, so every event is counted exactly once.
 */

export interface UploadBatchInput {
  spoolPath: string;
  fileName: string;
  totalRows: number;
  correlationId: string;
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
  /** Size of the chunks the stored events are cut into for processing (EVENTS_PER_JOB). */
  eventsPerChunk: number;
  logger: Logger;
}

const MAX_PASSES = 10;
const OWNER_POLL_MS = 200;

export function createUploadBatch(deps: UploadBatchDeps): UploadBatch {
  const { eventLog, sessions, logger } = deps;
  const events = rawEventsCollection(deps.db);

  /** Waits until no owner is still inserting; returns the owners that died without committing. */
  async function settleOwners(owners: Set<string>, lease: Lease): Promise<string[]> {
    const dead: string[] = [];
    const open = new Set(owners);
    while (open.size > 0) {
      for (const owner of [...open]) {
        const status = await sessions.ownerStatus(owner);
        // A "waiting" owner has written everything and only commits; waiting for it could deadlock.
        if (status === 'inserting') continue;
        open.delete(owner);
        if (status === 'dead') dead.push(owner);
      }
      if (open.size > 0) {
        lease.check();
        await sleep(OWNER_POLL_MS);
      }
    }
    return dead;
  }

  async function store(input: UploadBatchInput, batchId: string, lease: Lease): Promise<number> {
    const ctx: StoreContext = {
      events,
      sessions,
      batchId,
      checkAlive: () => {
        lease.check();
      },
      committed: new Set(),
      chunks: new ChunkWriter(deps.db, batchId, deps.eventsPerChunk),
    };
    let pass = await storePass(ctx, input.spoolPath);
    let newEvents = pass.inserted;
    for (let round = 2; pass.pendingOwners.size > 0; round++) {
      await lease.renew('waiting');
      const dead = await settleOwners(pass.pendingOwners, lease);
      if (dead.length === 0) break;
      if (round > MAX_PASSES) throw new Error(`upload ${batchId} could not settle its duplicates`);
      logger.info('re-storing events of uploads that died', { batchId, dead });
      for (const owner of dead) await sessions.purge(owner);
      await lease.renew('inserting');
      pass = await storePass(ctx, input.spoolPath);
      newEvents += pass.inserted;
    }
    await ctx.chunks.flush();
    return newEvents;
  }

  return async function uploadBatch(input) {
    const batchId = randomUUID();
    await sessions.purgeExpired();
    await sessions.open(batchId, input.fileName);
    const lease = new Lease(sessions, batchId, logger);
    try {
      const newEvents = await store(input, batchId, lease);
      const duplicates = input.totalRows - newEvents;
      await lease.renew();
      await eventLog.append({
        type: 'BatchUploaded',
        key: `BatchUploaded:${batchId}`,
        streamId: `batch:${batchId}`,
        data: { batchId, fileName: input.fileName, totalRows: input.totalRows, newEvents, duplicates },
        correlationId: input.correlationId,
      });
      lease.stop();
      // Committed: a leftover session is harmless (ownerStatus reads the log), so this is best effort.
      await sessions.close(batchId).catch((error: unknown) => {
        logger.warn('could not close upload session', { batchId, err: String(error) });
      });
      logger.info('batch uploaded', { batchId, totalRows: input.totalRows, newEvents, duplicates });
      return { batchId, newEvents, duplicates };
    } catch (error) {
      lease.stop();
      await sessions.abandon(batchId).catch((cleanupError: unknown) => {
        logger.warn('could not undo a failed upload; its lease will expire and it will be purged', {
          batchId,
          err: String(cleanupError),
        });
      });
      throw error;
    }
  };
}
