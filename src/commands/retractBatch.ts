import type { Db } from 'mongodb';
import { NotFoundError } from '../errors';
import { batchKeys, mayBeBatchId } from '../events/batchHistory';
import { dayCountsOf } from '../events/dailyCounts';
import type { EventLog, LogRecord } from '../events/eventLog';
import type { Logger } from '../logging';
import { CorrectionsFold, eventsErasedBy, readBatchRecords, type Effect } from '../events/corrections';
import { byCodeUnits } from '../events/codeUnitOrder';
import {
  appendBatchRetracted,
  batchRetractions,
  cleanUpRetraction,
  recordRetraction,
  type CleanupDeps,
} from './batchRetractions';

/**
 * RetractBatch: takes a batch back. Recorded first (batch_retractions), then BatchRetracted is
 * appended, then what the batch stored is removed (see batchRetractions). The log keeps every record;
 * the projections withdraw what the batch's EventsProcessed added before the retraction.
 */

export interface RetractBatchCommand {
  batchId: string;
  reason: string;
  correlationId: string;
}

export interface RetractBatchResult {
  batchId: string;
  status: 'retracted';
  reason: string;
  retractedAt: string;
  /** The events the batch held: those it stored (BatchUploaded.newEvents) less any erased since. */
  eventsWithdrawn: number;
  /** The events its processing had counted before the retraction: what the metrics lose. */
  countedEventsWithdrawn: number;
  /** UTC days (YYYY-MM-DD) and event types those counted events touched, sorted. */
  days: string[];
  eventTypes: string[];
  /** True when the batch was retracted before this call, which then changed nothing. */
  alreadyRetracted: boolean;
}

export interface RetractBatchDeps extends CleanupDeps {
  db: Db;
  eventLog: EventLog;
  logger: Logger;
}

/** What the retraction took out of the counts: the projections' own account of it (see corrections). */
async function withdrawnCounts(
  eventLog: EventLog,
  record: LogRecord<'BatchRetracted'>,
): Promise<Pick<RetractBatchResult, 'countedEventsWithdrawn' | 'days' | 'eventTypes'> & { erased: number }> {
  const fold = new CorrectionsFold();
  let effects: Effect[] = [];
  let erased = 0;
  for (const earlier of await readBatchRecords(eventLog, record.data.batchId)) {
    if (earlier.position > record.position) break;
    effects = fold.next(earlier);
    if (earlier.type === 'UserErased') erased += eventsErasedBy(earlier);
  }
  const days = new Set<string>();
  const eventTypes = new Set<string>();
  for (const { sign, detail } of effects) {
    if (sign > 0) continue;
    for (const { date, eventType } of dayCountsOf(detail)) {
      days.add(date);
      eventTypes.add(eventType);
    }
  }
  return {
    countedEventsWithdrawn: -effects.reduce((sum, { sign, events }) => sum + sign * events, 0),
    erased,
    days: [...days].sort(byCodeUnits),
    eventTypes: [...eventTypes].sort(byCodeUnits),
  };
}

export function createRetractBatch(deps: RetractBatchDeps) {
  async function answer(
    record: LogRecord<'BatchRetracted'>,
    stored: number,
    alreadyRetracted: boolean,
  ): Promise<RetractBatchResult> {
    const { erased, ...counted } = await withdrawnCounts(deps.eventLog, record);
    return {
      batchId: record.data.batchId,
      status: 'retracted',
      reason: record.data.reason,
      retractedAt: record.metadata.recordedAt.toISOString(),
      // What the batch still held: erasures took some of what it stored out before.
      eventsWithdrawn: stored - erased,
      ...counted,
      alreadyRetracted,
    };
  }

  return async function retractBatch(command: RetractBatchCommand): Promise<RetractBatchResult> {
    const { batchId, reason, correlationId } = command;
    const uploaded = mayBeBatchId(batchId)
      ? await deps.eventLog.findByKey(batchKeys.uploaded(batchId))
      : undefined;
    if (uploaded?.type !== 'BatchUploaded') throw new NotFoundError(`Batch ${batchId} not found`);
    const eventsWithdrawn = uploaded.data.newEvents;

    const standing = await deps.eventLog.findByKey(batchKeys.retracted(batchId));
    if (standing?.type === 'BatchRetracted') return answer(standing, eventsWithdrawn, true);

    // Only the call that recorded the request cleans up; a request recorded by someone else (a
    // concurrent call, or one that crashed) is finished by it or by the sweep.
    const recorded = await recordRetraction(deps.db, { _id: batchId, reason, correlationId });
    const doc = await batchRetractions(deps.db).findOne({ _id: batchId });
    if (doc === null) throw new Error(`batch ${batchId}: its retraction vanished while it was recorded`);
    const { record, appended } = await appendBatchRetracted(deps.eventLog, doc);
    if (recorded) {
      deps.logger.info('batch retracted', { batchId, correlationId, eventsWithdrawn });
      // The answer does not wait for the clean-up: the batch counts nowhere once its record is in
      // the log, an upload that meets its events waits for the clean-up (batch_retractions), and
      // the sweep finishes a clean-up this process does not live to end.
      void cleanUpRetraction(deps, batchId).catch((error: unknown) => {
        deps.logger.warn('the clean-up of a retraction stopped; the sweep finishes it', {
          batchId,
          err: String(error),
        });
      });
    }
    return answer(record, eventsWithdrawn, !appended);
  };
}

export type RetractBatch = ReturnType<typeof createRetractBatch>;
