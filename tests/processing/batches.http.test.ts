import type { BatchStatusDoc } from '../../src/projections/batchStatus';
import { liveCollection } from '../../src/projections/readModels';
import { expectDocumented } from '../support/openapi';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

const day = (iso: string) => new Date(iso);

function rows(): SeedRow[] {
  const out: SeedRow[] = [];
  for (let i = 0; i < 7; i++)
    out.push({ userId: `u${i}`, eventType: 'click', timestamp: day(`2024-03-01T0${i}:00:00Z`) });
  for (let i = 0; i < 3; i++)
    out.push({ userId: `u${i}`, eventType: 'view', timestamp: day(`2024-03-01T23:59:5${i}Z`) });
  // Late on 1 March in New York is 2 March in UTC: buckets are UTC dates.
  out.push({ userId: 'ny', eventType: 'click', timestamp: day('2024-03-01T23:30:00-05:00') });
  return out;
}

interface BatchBody {
  batchId: string;
  status: string;
  processedEvents: number;
  totalEvents: number;
  progress: number;
  processedAt: string | null;
}

describe('batches and metrics over HTTP', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '3' } });
  });

  afterAll(async () => {
    await service.stop();
  });

  const get = async (path: string) => {
    const res = await fetch(`${service.baseUrl}${path}`);
    return { status: res.status, body: await res.json() };
  };
  const post = async (path: string) => {
    const res = await fetch(`${service.baseUrl}${path}`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('processes a batch once: 202, then 200 with nothing enqueued, then completed with exact metrics', async () => {
    const { batchId, newEvents } = await seedBatch(service.runtime, rows(), 'march.csv');
    expect(newEvents).toBe(11);

    const first = await post(`/api/batches/${batchId}/process`);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ batchId, jobsEnqueued: 4 });
    expectDocumented('POST /api/batches/{id}/process', first);

    const done = await waitFor(
      async () => (await get(`/api/batches/${batchId}`)).body as BatchBody,
      (b) => b.status === 'completed',
      30_000,
      'batch completed',
    );
    expect(done).toMatchObject({ processedEvents: 11, totalEvents: 11, progress: 100 });
    expect(done.processedAt).not.toBeNull();
    expectDocumented('GET /api/batches/{id}', await get(`/api/batches/${batchId}`));

    const again = await post(`/api/batches/${batchId}/process`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ batchId, jobsEnqueued: 0 });
    expectDocumented('POST /api/batches/{id}/process', again);

    // The daily counts are a second read model: it may trail the batch status a little.
    const expected = {
      status: 200,
      body: {
        date: '2024-03-01',
        metrics: [
          { eventType: 'click', count: 7 },
          { eventType: 'view', count: 3 },
        ],
      },
    };
    const march1 = await waitFor(
      () => get('/api/metrics?date=2024-03-01'),
      (r) => JSON.stringify(r) === JSON.stringify(expected),
      10_000,
      'the daily counts of 1 March',
    );
    expect(march1).toEqual(expected);
    expectDocumented('GET /api/metrics', march1);
    expect((await get('/api/metrics?date=2024-03-02')).body).toEqual({
      date: '2024-03-02',
      metrics: [{ eventType: 'click', count: 1 }],
    });
  });

  it('completes a batch with no new events at once, and processing it enqueues nothing', async () => {
    const { db } = service.runtime.mongo;
    const once = [{ userId: 'again', eventType: 'click', timestamp: day('2024-04-04T04:00:00Z') }];
    await seedBatch(service.runtime, once, 'first.csv');
    const { batchId, newEvents } = await seedBatch(service.runtime, once, 'again.csv');
    expect(newEvents).toBe(0);

    // The projector, not the log fallback of GET, must write the batch as completed.
    const batchStatus = await liveCollection<BatchStatusDoc>(db, 'batchStatus');
    const doc = await waitFor(
      () => batchStatus.findOne({ _id: batchId }),
      (d) => d !== null,
      10_000,
      'the batch in the read model',
    );
    expect(doc).toMatchObject({ status: 'completed', totalEvents: 0, processedEvents: 0 });
    expect(doc?.processedAt).toEqual(doc?.uploadedAt);
    const shown = await get(`/api/batches/${batchId}`);
    expect(shown.body).toMatchObject({ status: 'completed', progress: 100 });

    const processed = await post(`/api/batches/${batchId}/process`);
    expect(processed).toMatchObject({
      status: 200,
      body: { jobsEnqueued: 0, message: 'Nothing left to process' },
    });
    // The call appended BatchProcessingStarted: once the projector has applied it, nothing changed.
    const after = await waitFor(
      () => batchStatus.findOne({ _id: batchId }),
      (d) => d !== null && d.lastPosition > (doc?.lastPosition ?? 0),
      10_000,
      'the processing record applied to the batch',
    );
    expect(after).toMatchObject({ status: 'completed', processedAt: doc?.processedAt });
  });

  it('answers 404 for an unknown batch, whatever the id looks like, and 400 for a malformed path', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'a:b', 'a\u0000b']) {
      const processed = await post(`/api/batches/${encodeURIComponent(id)}/process`);
      expect(processed.status).toBe(404);
      expectDocumented('POST /api/batches/{id}/process', processed);
      const batch = await get(`/api/batches/${encodeURIComponent(id)}`);
      expect(batch.status).toBe(404);
      expectDocumented('GET /api/batches/{id}', batch);
    }
    const malformed = await get('/api/batches/%ff');
    expect(malformed).toEqual({
      status: 400,
      body: {
        error: 'ValidationError',
        message: 'The request path is not valid: it has a malformed %-escape',
      },
    });
  });

  it('validates metric dates strictly and answers an empty day with []', async () => {
    for (const bad of ['2024-02-31', '2024-1-1', 'abc', '2023-02-29', '']) {
      const res = await get(`/api/metrics?date=${bad}`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'ValidationError' });
      expectDocumented('GET /api/metrics', res);
    }
    expect((await get('/api/metrics?date=2024-01-01&date=2024-01-02')).status).toBe(400);
    expect((await get('/api/metrics?date=2024-02-29')).body).toEqual({ date: '2024-02-29', metrics: [] });
    const today = new Date().toISOString().slice(0, 10);
    expect(await get('/api/metrics')).toEqual({ status: 200, body: { date: today, metrics: [] } });
  });

  it('lists batches newest first, a page at a time', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await seedBatch(service.runtime, [
        { userId: `list${i}`, eventType: 'x', timestamp: day('2024-05-05T00:00:00Z') },
      ]);
      ids.push(r.batchId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    await waitFor(
      async () => ((await get('/api/batches?limit=100')).body as { batches: BatchBody[] }).batches,
      (b) => ids.every((id) => b.some((x) => x.batchId === id)),
    );
    do {
      const reply = await get(`/api/batches?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`);
      expectDocumented('GET /api/batches', reply);
      const page = reply.body as { batches: BatchBody[]; nextCursor: string | null };
      expect(page.batches.length).toBeLessThanOrEqual(2);
      seen.push(...page.batches.map((b) => b.batchId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen.slice(0, 3)).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    for (const bad of ['limit=0', 'limit=101', 'limit=2.5', 'cursor=abc', 'cursor=0']) {
      const reply = await get(`/api/batches?${bad}`);
      expect(reply.status).toBe(400);
      expectDocumented('GET /api/batches', reply);
    }
  });
});
