import fc from 'fast-check';
import { rawEvents, uploadCsv } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

interface Event {
  userId: string;
  eventType: string;
  timestamp: string;
}

const DAY = '2024-03-01';
const at = (minute: number) => new Date(Date.UTC(2024, 2, 1, 0, minute)).toISOString();

async function post(baseUrl: string, events: unknown[]): Promise<Reply> {
  const res = await fetch(`${baseUrl}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function batchOf(baseUrl: string, id: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${baseUrl}/api/batches/${id}`)).json()) as Record<string, unknown>;
}

/** Posts sent at once share batches (group commit), each answer with its own exact counts; they process themselves. */
describe('POST /api/events, grouped', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;

  beforeAll(async () => {
    // A long window, so that posts sent together on a loaded machine still land in one group.
    service = await startTestService({
      env: { EVENTS_GROUP_WINDOW_MS: '100', EVENTS_GROUP_MAX_EVENTS: '50' },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('answers each of many overlapping concurrent posts with exact counts of its own', async () => {
    const pool = Array.from({ length: 30 }, (_, i) => ({
      userId: `p${i % 7}`,
      eventType: `t${i % 3}`,
      minute: i,
    }));
    const scenario = fc.array(fc.array(fc.nat(pool.length - 1), { minLength: 1, maxLength: 15 }), {
      minLength: 2,
      maxLength: 8,
    });
    let grouped = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (posts) => {
        await rawEvents(db()).deleteMany({});
        const bodies: Event[][] = posts.map((picks) =>
          picks.map((i) => {
            const e = pool[i] ?? { userId: 'x', eventType: 'x', minute: 0 };
            return { userId: e.userId, eventType: e.eventType, timestamp: at(e.minute) };
          }),
        );
        const replies = await Promise.all(bodies.map((events) => post(service.baseUrl, events)));
        const distinct = new Set(posts.flat());
        let counted = 0;
        replies.forEach((reply, i) => {
          expect(reply.status).toBe(201);
          const own = new Set(posts[i]);
          const { totalEvents, duplicates } = reply.body as { totalEvents: number; duplicates: number };
          expect(totalEvents + duplicates).toBe(posts[i]?.length);
          expect(totalEvents).toBeLessThanOrEqual(own.size);
          counted += totalEvents;
        });
        // Every distinct event is stored once and counted new by exactly one post.
        expect(counted).toBe(distinct.size);
        expect(await rawEvents(db()).countDocuments({})).toBe(distinct.size);
        // Per batch, its posts' new events add up to what the batch says it stored.
        const perBatch = new Map<string, number>();
        for (const { body } of replies) {
          const id = String(body.batchId);
          perBatch.set(id, (perBatch.get(id) ?? 0) + Number(body.totalEvents));
        }
        for (const [id, total] of perBatch)
          expect((await batchOf(service.baseUrl, id)).totalEvents).toBe(total);
        if (perBatch.size < replies.length) grouped += 1;
      }),
      { numRuns: 12 },
    );
    // Concurrent posts did share batches (else this test says nothing about groups).
    expect(grouped).toBeGreaterThan(0);
  });

  it('refuses an invalid post alone: the others of its group are stored and answered', async () => {
    await rawEvents(db()).deleteMany({});
    const [first, bad, last] = await Promise.all([
      post(service.baseUrl, [{ userId: 'g1', eventType: 'click', timestamp: at(1) }]),
      post(service.baseUrl, [
        { userId: 'g2', eventType: 'click', timestamp: at(2) },
        { userId: 'g3', eventType: 'click', timestamp: 'yesterday' },
      ]),
      post(service.baseUrl, [
        { userId: 'g1', eventType: 'click', timestamp: at(1) },
        { userId: 'g4', eventType: 'click', timestamp: at(4) },
      ]),
    ]);
    expect(bad.status).toBe(400);
    expect(first).toMatchObject({ status: 201, body: { totalEvents: 1, duplicates: 0 } });
    expect(last.status).toBe(201);
    expect(Number(first.body.totalEvents) + Number(last.body.totalEvents)).toBe(2);
    const stored = await rawEvents(db()).find({}).toArray();
    expect(stored.map((d) => d.userId).sort()).toEqual(['g1', 'g4']);
  });

  it('processes posted events without a process call, and the process call stays idempotent', async () => {
    const reply = await post(service.baseUrl, [
      { userId: 'm1', eventType: 'autoprocessed', timestamp: `${DAY}T10:00:00Z` },
      { userId: 'm2', eventType: 'autoprocessed', timestamp: `${DAY}T11:00:00Z` },
    ]);
    expect(reply).toMatchObject({ status: 201, body: { processingStarted: true } });
    const metrics = await waitFor(
      async () =>
        (await (await fetch(`${service.baseUrl}/api/metrics?date=${DAY}`)).json()) as {
          metrics: { eventType: string; count: number }[];
        },
      (m) => m.metrics.some((x) => x.eventType === 'autoprocessed'),
      60_000,
      'posted events in the metrics',
    );
    expect(metrics.metrics.find((x) => x.eventType === 'autoprocessed')?.count).toBe(2);
    const id = String(reply.body.batchId);
    await waitFor(
      () => batchOf(service.baseUrl, id),
      (b) => b.status === 'completed',
      60_000,
      'completed',
    );
    const again = await fetch(`${service.baseUrl}/api/batches/${id}/process`, { method: 'POST' });
    expect(((await again.json()) as { jobsEnqueued: number }).jobsEnqueued).toBe(0);
  });

  it('processes an upload sent with process=true (query or form field), and only then', async () => {
    const csv = (user: string) => `userId,eventType,timestamp\n${user},uploadprocessed,${DAY}T12:00:00Z\n`;
    const byQuery = await uploadCsv(service.baseUrl, csv('q1'), { query: 'process=true' });
    const byField = await uploadCsv(service.baseUrl, csv('f1'), { fields: { process: 'true' } });
    const plain = await uploadCsv(service.baseUrl, csv('n1'));
    const wrong = await uploadCsv(service.baseUrl, csv('w1'), { query: 'process=maybe' });
    expect(byQuery.body.processingStarted).toBe(true);
    expect(byField.body.processingStarted).toBe(true);
    expect(plain.body.processingStarted).toBeUndefined();
    expect(wrong.status).toBe(400);
    for (const reply of [byQuery, byField]) {
      await waitFor(
        () => batchOf(service.baseUrl, String(reply.body.batchId)),
        (b) => b.status === 'completed',
        60_000,
        'the upload processed',
      );
    }
    expect((await batchOf(service.baseUrl, String(plain.body.batchId))).status).toBe('uploaded');
  });
});

describe('AUTO_PROCESS_UPLOADS and the bound on posted events waiting to be stored', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: { AUTO_PROCESS_UPLOADS: 'true', EVENTS_GROUP_WINDOW_MS: '1000', EVENTS_MAX_WAITING: '5' },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('processes every upload unless it says process=false', async () => {
    const csv = (user: string) => `userId,eventType,timestamp\n${user},auto,${DAY}T12:00:00Z\n`;
    const byDefault = await uploadCsv(service.baseUrl, csv('a1'));
    const optedOut = await uploadCsv(service.baseUrl, csv('a2'), { query: 'process=false' });
    expect(byDefault.body.processingStarted).toBe(true);
    expect(optedOut.body.processingStarted).toBeUndefined();
    const started = await service.runtime.mongo.db
      .collection<{ data: { batchId: string } }>('event_log')
      .find({ type: 'BatchProcessingStarted' })
      .toArray();
    expect(started.map((r) => r.data.batchId)).toEqual([byDefault.body.batchId]);
  });

  it('answers 503 with Retry-After once EVENTS_MAX_WAITING events wait to be stored', async () => {
    const events = (user: string) =>
      [1, 2, 3].map((m) => ({ userId: user, eventType: 'wait', timestamp: at(m) }));
    // Sent together: whichever comes first waits out the group window; the other would make 6 waiting.
    const send = (user: string) =>
      fetch(`${service.baseUrl}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(events(user)),
      });
    const replies = await Promise.all([send('w1'), send('w2')]);
    expect(replies.map((r) => r.status).sort()).toEqual([201, 503]);
    const busy = replies.find((r) => r.status === 503);
    expect(Number(busy?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await busy?.json()) as { error: string }).error).toBe('ServiceBusy');
  });
});
