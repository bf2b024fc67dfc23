import { currentSchemas } from '../../src/events/recordTypes';
import { seedBatch } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';

/**
 * The chunk size is stored once, in BatchUploaded (the chunk documents are cut at it); a processing
 * round records how many chunks it found, not the size again.
 */
describe('BatchProcessingStarted', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { EVENTS_PER_CHUNK: '2' } });
  });

  afterAll(async () => {
    await service.stop();
  });

  it('records the round, its chunks and events, and no chunk size', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({
      userId: `u${i}`,
      eventType: 'started',
      timestamp: new Date(Date.UTC(2024, 2, 1, i)),
    }));
    const { batchId } = await seedBatch(service.runtime, rows);
    const uploaded = await service.runtime.eventLog.findByKey(`BatchUploaded:${batchId}`);
    expect(uploaded?.data).toMatchObject({ eventsPerChunk: 2 });

    const res = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(res.status).toBe(202);
    const started = await service.runtime.eventLog.findByKey(`BatchProcessingStarted:${batchId}:1`);
    expect(started?.data).toEqual({ batchId, round: 1, chunks: 3, totalEvents: 5 });
  });

  it('reads a record written with a chunk size of its own as one without', () => {
    const stored = { batchId: 'b', round: 2, eventsPerChunk: 5000, chunks: 4, totalEvents: 20_000 };
    expect(currentSchemas.BatchProcessingStarted.parse(stored)).toEqual({
      batchId: 'b',
      round: 2,
      chunks: 4,
      totalEvents: 20_000,
    });
  });
});
