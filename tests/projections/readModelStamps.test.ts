import { buildProjectors } from '../../src/compose';
import { dailyMetricsProjection } from '../../src/projections/dailyMetrics';
import type { Projection } from '../../src/projections/projection';
import { projectInto, targetFor } from '../../src/projections/projector';
import { checkpointId, readCheckpoint } from '../../src/projections/readModels';
import { readStamps, replaceStamp } from '../../src/projections/readModelStamps';
import { rebuildProjections } from '../../src/projections/rebuild';
import { appendBatchUploaded } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';

/**
 * The read models' stamps, which a cached answer is checked against (queries/answerCache): tokens
 * in Redis, replaced after a projector's writes and before its checkpoint, and after a rebuild's
 * switch.
 */
describe('read-model stamps', () => {
  let service: TestService;
  let uploads = 0;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
  });

  afterAll(async () => {
    await service.stop();
  });

  const stamps = () => readStamps(service.runtime.redis, service.runtime.config.redis.prefix);

  /** A record every projection moves its checkpoint over. */
  async function appendUpload(): Promise<void> {
    uploads += 1;
    await appendBatchUploaded(service.runtime.eventLog, `stamps-${uploads}`);
  }

  it("carries the Redis server's run id and changes only when its own token is replaced", async () => {
    const info = await service.runtime.redis.info('server');
    const runId = /run_id:(\w+)/.exec(info)?.[1] ?? 'no run_id';
    const before = await stamps();
    for (const stamp of Object.values(before)) expect(stamp.startsWith(`${runId}:`)).toBe(true);
    expect(await stamps()).toEqual(before);

    await replaceStamp(service.runtime.redis, service.runtime.config.redis.prefix, 'metricSeries');
    const after = await stamps();
    expect(after.metricSeries).not.toBe(before.metricSeries);
    expect({ ...after, metricSeries: '' }).toEqual({ ...before, metricSeries: '' });
  });

  it('sets a token afresh when Redis has lost it, never giving an earlier stamp back', async () => {
    const before = await stamps();
    await service.runtime.redis.del(`${service.runtime.config.redis.prefix}:read-model-stamps`);
    const after = await stamps();
    for (const name of ['dailyMetrics', 'batchStatus', 'metricSeries'] as const) {
      expect(after[name]).not.toBe(before[name]);
    }
    expect(await stamps()).toEqual(after);
  });

  it('is replaced by a projector page after its writes and before its checkpoint moves', async () => {
    const { mongo, eventLog } = service.runtime;
    await appendUpload();
    const target = targetFor(mongo.db, dailyMetricsProjection, 7);
    const before = await readCheckpoint(mongo.db, target.checkpointId);
    const seen: number[] = [];
    await expect(
      projectInto(mongo.db, eventLog, target, {
        fence: 1,
        replaceStamp: async () => {
          seen.push(await readCheckpoint(mongo.db, target.checkpointId));
          throw new Error('Redis is down');
        },
      }),
    ).rejects.toThrow('Redis is down');
    expect(seen).toEqual([before]);
    expect(await readCheckpoint(mongo.db, target.checkpointId)).toBe(before);

    // The live projectors replace their own read model's stamp.
    const stamped = await stamps();
    for (const catchUp of buildProjectors(service.runtime)) await catchUp();
    const projected = await stamps();
    expect(projected.dailyMetrics).not.toBe(stamped.dailyMetrics);
    expect(projected.metricSeries).not.toBe(stamped.metricSeries);
  });

  it('is replaced by a rebuild, which first brings the version it replaces to the same position', async () => {
    const { mongo, eventLog, redis, config, logger } = service.runtime;
    await appendUpload();
    for (const catchUp of buildProjectors(service.runtime)) await catchUp();
    // A record appended while the replay runs: the rebuild applies it to both versions.
    let appended = false;
    const appendingOnce: Projection = {
      ...dailyMetricsProjection,
      async planPage(db, collection, page, report, memory) {
        if (!appended) {
          appended = true;
          await appendUpload();
        }
        return dailyMetricsProjection.planPage(db, collection, page, report, memory);
      },
    };
    const before = await stamps();
    const [result] = await rebuildProjections(
      { db: mongo.db, eventLog, redis, prefix: config.redis.prefix, logger },
      [appendingOnce],
    );
    expect(appended).toBe(true);
    const head = await eventLog.head();
    const from = result?.from ?? 0;
    expect(await readCheckpoint(mongo.db, checkpointId('dailyMetrics', from))).toBe(head);
    expect(await readCheckpoint(mongo.db, checkpointId('dailyMetrics', from + 1))).toBe(head);
    expect((await stamps()).dailyMetrics).not.toBe(before.dailyMetrics);
  });
});
