import { batchKeys, batchStream } from '../../events/batchHistory';
import type { EventLog } from '../../events/eventLog';
import type { Logger } from '../../logging';
import type { StoreLease, StoreLeases } from './storeLease';
import type { CommitFacts, SessionDoc, UploadSessions } from './uploadSessions';

/**
 * Ending the sessions that uploads left behind (the process died, or the database went away while
 * it tried to undo itself). Only the holder of the store lease does it, before it stores, so no
 * insert races a purge; a sweep in every API process does it too when no upload comes along.
 */

export interface UploadRecoveryDeps {
  sessions: UploadSessions;
  eventLog: EventLog;
  logger: Logger;
  /**
   * Starts processing a batch whose commit recovery finished. Its upload answered with an error, so
   * no client knows its id to process it; without this its events would be stored and never counted
   * (a re-upload of the file finds them all stored). Once the round is in the log, the workers'
   * sweep enqueues whatever this call could not.
   */
  processRecovered?: (batchId: string) => Promise<unknown>;
}

/** The commit point of an upload; idempotent, so a commit cut short can be finished by anyone. */
export async function appendBatchUploaded(
  eventLog: EventLog,
  batchId: string,
  facts: CommitFacts,
): Promise<void> {
  const { correlationId, ...data } = facts;
  await eventLog.append({
    type: 'BatchUploaded',
    key: batchKeys.uploaded(batchId),
    streamId: batchStream(batchId),
    data: { batchId, ...data },
    correlationId,
  });
}

async function endSession(deps: UploadRecoveryDeps, session: SessionDoc): Promise<'committed' | 'purged'> {
  const { sessions, eventLog } = deps;
  const outcome = await sessions.decide(session._id, 'purge', null);
  if (outcome.outcome === 'commit' && outcome.commit !== null) {
    // Every event was stored before the upload decided to commit; only the log record is missing.
    await appendBatchUploaded(eventLog, session._id, outcome.commit);
    await deps.processRecovered?.(session._id).catch((error: unknown) => {
      deps.logger.warn('could not start processing a recovered batch; process it by hand', {
        batchId: session._id,
        err: String(error),
      });
    });
    await sessions.close(session._id);
    await sessions.forgetCommit(session._id);
    return 'committed';
  }
  try {
    await sessions.purge(session);
  } catch (error) {
    await sessions.recordPurgeFailure(session._id, error).catch(() => undefined);
    throw error;
  }
  await sessions.close(session._id);
  return 'purged';
}

/** Ends every open session; call while holding the store lease and before opening one's own. */
export async function recoverLeftovers(deps: UploadRecoveryDeps, lease: StoreLease): Promise<number> {
  const left = await deps.sessions.all();
  for (const session of left) {
    lease.check();
    const ended = await endSession(deps, session);
    deps.logger.info(
      ended === 'committed' ? 'finished the commit of an interrupted upload' : 'purged an interrupted upload',
      {
        batchId: session._id,
        fileName: session.fileName,
        slices: session.slices,
      },
    );
  }
  return left.length;
}

/**
 * Every `intervalMs`: when sessions were left behind and no upload holds the store lease, takes it
 * and ends them. A failure is logged (and shown by /health) and tried again at the next tick.
 */
export function startUploadRecovery(deps: UploadRecoveryDeps & { leases: StoreLeases; intervalMs: number }): {
  stop(): void;
} {
  let running = false;
  const tick = async (): Promise<void> => {
    if ((await deps.sessions.all()).length === 0) return;
    const lease = await deps.leases.tryAcquire('recovery');
    if (lease === undefined) return;
    try {
      await recoverLeftovers(deps, lease);
    } finally {
      await lease.release();
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    tick()
      .catch((error: unknown) => {
        deps.logger.warn('could not end the sessions of interrupted uploads; will try again', {
          err: String(error),
        });
      })
      .finally(() => {
        running = false;
      });
  }, deps.intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
