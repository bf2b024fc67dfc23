import { chunkJobId } from '../../src/chunkJobs';
import { batchKeys, batchStream } from '../../src/events/batchHistory';
import { detailOf } from '../../src/events/chunkDetail';
import { allProjections } from '../../src/projections/allProjections';
import { projectInto, targetFor } from '../../src/projections/projector';
import { liveVersion } from '../../src/projections/readModels';
import { createRequeueLostChunks } from '../../src/workers/requeueLostChunks';
import { startPrivateRedis, type PrivateServer } from '../support/privateServers';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';

/**
 * The lost-chunk sweep asks the queue about each unprocessed chunk in turn; a job that completes
 * meanwhile is gone from the queue with its record in the log. The sweep must not run it again.
 */
describe('the lost-chunk sweep against a job that completes while it asks', () => {
  let redis: PrivateServer;
  let service: TestService;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    service = await startTestService({
      workers: false,
      env: { REDIS_URL: redis.url, EVENTS_PER_CHUNK: '1' },
    });
  });
  afterAll(async () => {
    await service.stop();
    await redis.destroy();
  });

  it('requeues only the chunks that are neither queued nor in the log', async () => {
    const { runtime } = service;
    const db = runtime.mongo.db;
    const csv =
      'userId,eventType,timestamp\na,click,2024-03-01T10:00:00Z\nb,click,2024-03-01T11:00:00Z\nc,view,2024-03-02T10:00:00Z\n';
    const uploaded = await uploadCsv(service.baseUrl, csv, { query: 'process=true' });
    expect(uploaded.status).toBe(201);
    const batchId = String(uploaded.body.batchId);
    // The three chunk jobs are lost with Redis; the batch status says `processing`.
    await redis.stop();
    await redis.start();
    for (const projection of allProjections()) {
      const target = targetFor(db, projection, await liveVersion(db, projection.name));
      await projectInto(db, runtime.eventLog, target, { fence: 0 });
    }

    // Chunk 0's job "completes" just as the sweep asks the queue about it.
    const completeChunk0 = async (): Promise<void> => {
      await runtime.eventLog.append({
        type: 'EventsProcessed',
        key: batchKeys.processed(batchId, 0),
        streamId: batchStream(batchId),
        data: {
          batchId,
          chunk: 0,
          events: 1,
          firstDay: '2024-03-01',
          lastDay: '2024-03-01',
          detail: detailOf([['click', Date.UTC(2024, 2, 1, 10), 1n]]),
          revision: 0,
        },
        correlationId: 'requeue-race',
      });
    };
    const queue = runtime.processingQueue;
    const asked = new Proxy(queue, {
      get(target, property, receiver) {
        if (property !== 'getJob') return Reflect.get(target, property, receiver) as unknown;
        return async (jobId: string) => {
          if (jobId === chunkJobId(batchId, 0)) await completeChunk0();
          return target.getJob(jobId);
        };
      },
    });
    const requeue = createRequeueLostChunks({
      db,
      eventLog: runtime.eventLog,
      queue: asked,
      logger: runtime.logger,
    });

    expect(await requeue()).toBe(2);
    const states = await Promise.all([0, 1, 2].map((chunk) => queue.getJobState(chunkJobId(batchId, chunk))));
    expect(states).toEqual(['unknown', 'waiting', 'waiting']);
  }, 60_000);
});
