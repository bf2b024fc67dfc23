import { setTimeout as sleep } from 'node:timers/promises';
import type { AnyLogRecord, EventLog } from '../../src/events/eventLog';
import { dailyMetricsProjection } from '../../src/projections/dailyMetrics';
import type { Projection } from '../../src/projections/projection';
import { rebuildProjections } from '../../src/projections/rebuild';
import { appendBatchUploaded } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';

/**
 * A rebuild asks for the log before it prepares the new versions (the read and the preparing
 * overlap): whichever fails, the rebuild reports that failure, leaves no rejection unhandled and
 * lets its lease go, so the next rebuild runs.
 */
describe('a rebuild that fails', () => {
  let service: TestService;
  const unhandled: unknown[] = [];
  let lastPosition = 0;
  const recordUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    service = await startTestService({ workers: false });
    await appendBatchUploaded(service.runtime.eventLog, 'rebuild-failures');
    lastPosition = await service.runtime.eventLog.head();
    process.on('unhandledRejection', recordUnhandled);
  });

  afterAll(async () => {
    process.off('unhandledRejection', recordUnhandled);
    await service.stop();
  });

  const depsWith = (eventLog: EventLog) => {
    const { mongo, redis, config, logger } = service.runtime;
    return { db: mongo.db, eventLog, redis, prefix: config.redis.prefix, logger };
  };

  /**
   * The service's log, whose read fails at its last record, `delayMs` after reaching it; `failed`
   * settles once it has thrown.
   */
  const failingLog = (delayMs: number): { log: EventLog; failed: Promise<void> } => {
    let threw = (): void => undefined;
    const failed = new Promise<void>((resolve) => {
      threw = resolve;
    });
    const log: EventLog = {
      ...service.runtime.eventLog,
      async *readAll(from, batchSize): AsyncGenerator<AnyLogRecord> {
        for await (const record of service.runtime.eventLog.readAll(from, batchSize)) {
          if (record.position >= lastPosition) {
            await sleep(delayMs);
            threw();
            throw new Error('the log read failed');
          }
          yield record;
        }
      },
    };
    return { log, failed };
  };

  /** Lets an unhandled rejection of the failed read be reported, should there be one. */
  const afterFailure = async (failed: Promise<void>): Promise<void> => {
    await failed;
    await sleep(100);
  };

  const failingToPrepare: Projection = {
    ...dailyMetricsProjection,
    ensureIndexes: () => Promise.reject(new Error('the index could not be created')),
  };

  it('reports a failure to prepare even when the log read fails afterwards', async () => {
    const { log, failed } = failingLog(200);
    await expect(rebuildProjections(depsWith(log), [failingToPrepare])).rejects.toThrow(
      'the index could not be created',
    );
    // The read's failure came after the rebuild had given up on it; nothing was left unhandled.
    await afterFailure(failed);
    expect(unhandled).toEqual([]);
  });

  it('reports a failed log read', async () => {
    const { log, failed } = failingLog(0);
    await expect(rebuildProjections(depsWith(log), [dailyMetricsProjection])).rejects.toThrow(
      'the log read failed',
    );
    await afterFailure(failed);
    expect(unhandled).toEqual([]);
  });

  it('lets the next rebuild run', async () => {
    const [result] = await rebuildProjections(depsWith(service.runtime.eventLog), [dailyMetricsProjection]);
    expect(result?.projection).toBe('dailyMetrics');
    expect(result?.records).toBeGreaterThanOrEqual(1);
  });
});
