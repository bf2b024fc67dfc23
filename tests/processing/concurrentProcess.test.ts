import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

const CHUNKS = 20;
const CALLS = 5;

interface ProcessReply {
  status: number;
  jobsEnqueued: number;
}

/** Concurrent process calls of one batch: together they enqueue each chunk once, and each says so. */
describe('concurrent POST /api/batches/:id/process', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '1' } });
  });

  afterAll(async () => {
    await service.stop();
  });

  const processOnce = async (batchId: string): Promise<ProcessReply> => {
    const res = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    const body = (await res.json()) as { jobsEnqueued: number };
    return { status: res.status, jobsEnqueued: body.jobsEnqueued };
  };

  it('answers jobsEnqueued that add up to the chunks, whatever the interleaving', async () => {
    // Several batches, so that more than one interleaving of the calls is tried.
    for (let round = 0; round < 3; round++) {
      const uploaded = await uploadCsv(service.baseUrl, csvOfRows(CHUNKS, round * CHUNKS, `c${round}-`));
      expect(uploaded.body).toMatchObject({ totalEvents: CHUNKS });
      const batchId = uploaded.body.batchId as string;

      const replies = await Promise.all(Array.from({ length: CALLS }, () => processOnce(batchId)));
      for (const reply of replies) expect(reply.status).toBe(reply.jobsEnqueued > 0 ? 202 : 200);
      const enqueued = replies.map((r) => r.jobsEnqueued);
      expect({ enqueued, total: enqueued.reduce((sum, n) => sum + n, 0) }).toMatchObject({ total: CHUNKS });

      const done = await waitFor(
        async () =>
          (await (await fetch(`${service.baseUrl}/api/batches/${batchId}`)).json()) as Record<
            string,
            unknown
          >,
        (b) => b.status === 'completed',
        60_000,
        'batch completed',
      );
      expect(done).toMatchObject({ processedEvents: CHUNKS, totalEvents: CHUNKS });
      const again = await processOnce(batchId);
      expect(again).toEqual({ status: 200, jobsEnqueued: 0 });
    }
  }, 180_000);
});
