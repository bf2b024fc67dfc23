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

  /** The service's log, whose read fails at its last record, `delayMs` after reaching it. */
  const failingLog = (delayMs: number): EventLog => ({
    ...service.runtime.eventLog,
    async *readAll(from, batchSize): AsyncGenerator<AnyLogRecord> {
      for await (const record of service.runtime.eventLog.readAll(from, batchSize)) {
        if (record.position >= lastPosition) {
          await sleep(delayMs);
          throw new Error('the log read failed');
        }
        yield record;
      }
    },
  });

  const failingToPrepare: Projection = {
    ...dailyMetricsProjection,
    ensureIndexes: () => Promise.reject(new Error('the index could not be created')),
  };

  it('reports a failure to prepare even when the log read fails afterwards', async () => {
    await expect(rebuildProjections(depsWith(failingLog(200)), [failingToPrepare])).rejects.toThrow(
      'the index could not be created',
    );
    // The read's failure came after the rebuild had given up on it; nothing was left unhandled.
    await sleep(500);
    expect(unhandled).toEqual([]);
  });

  it('reports a failed log read', async () => {
    await expect(rebuildProjections(depsWith(failingLog(0)), [dailyMetricsProjection])).rejects.toThrow(
      'the log read failed',
    );
    await sleep(200);
    expect(unhandled).toEqual([]);
  });

  it('lets the next rebuild run', async () => {
    const [result] = await rebuildProjections(depsWith(service.runtime.eventLog), [dailyMetricsProjection]);
    expect(result?.projection).toBe('dailyMetrics');
    expect(result?.records).toBeGreaterThanOrEqual(1);
  });
});
