import type { Db } from 'mongodb';
import { userErasures } from '../../src/commands/eraseUser/erasures';
import { forEachDetailCount } from '../../src/events/chunkDetail';
import { EVENT_LOG_COLLECTION } from '../../src/events/eventLog';
import { rawEventChunks } from '../../src/events/rawEventChunks';
import { holdsUser } from '../../src/commands/eraseUser/chunkErasure';
import { fingerprintHex } from '../../src/events/userFingerprint';
import { expectDocumented } from '../support/openapi';
import { TEST_ADMIN_KEY } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** Erasing a user across several batches, through HTTP on the real stack. */

type Row = [userId: string, eventType: string, iso: string];
const csv = (rows: readonly Row[]): string =>
  ['userId,eventType,timestamp', ...rows.map((r) => r.join(','))].join('\n') + '\n';

const VICTIM_ROWS: Row[] = [
  ['victim', 'click', '2024-01-15T10:00:00Z'],
  ['victim', 'view', '2024-01-16T11:00:00Z'],
  ['victim', 'click', '2024-01-15T12:00:00Z'],
];
const BATCHES: Row[][] = [
  [
    VICTIM_ROWS[0] as Row,
    ['alice', 'click', '2024-01-15T10:00:00Z'],
    VICTIM_ROWS[1] as Row,
    ['alice', 'view', '2024-01-16T09:00:00Z'],
  ],
  [
    ['bob', 'click', '2024-01-15T10:30:00Z'],
    VICTIM_ROWS[2] as Row,
    ['bob', 'view', '2024-01-16T10:00:00Z'],
    ['bob', 'click', '2024-01-15T13:00:00Z'],
  ],
  [
    ['carol', 'click', '2024-01-15T14:00:00Z'],
    ['carol', 'click', '2024-01-15T15:00:00Z'],
  ],
];

describe('POST /api/users/erase', () => {
  let service: TestService;
  const db = (): Db => service.runtime.mongo.db;
  const admin = { 'X-API-Key': TEST_ADMIN_KEY, 'content-type': 'application/json' };
  const batchIds: string[] = [];

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = admin,
  ) => {
    const res = await fetch(`${service.baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      location: res.headers.get('location'),
    };
  };
  const erase = (body: unknown) => call('POST', '/api/users/erase', body);
  const clicksOn = async (date: string): Promise<number> => {
    const { body } = await call('GET', `/api/metrics?date=${date}`);
    const metrics = body.metrics as { eventType: string; count: number }[];
    return metrics.find((m) => m.eventType === 'click')?.count ?? 0;
  };
  const userErasedRecords = () =>
    db().collection(EVENT_LOG_COLLECTION).find({ type: 'UserErased' }).toArray();

  beforeAll(async () => {
    // Chunks of 2 events: the victim's events sit in several chunks of several batches.
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '2' } });
    for (const rows of BATCHES) {
      const reply = await uploadCsv(service.baseUrl, csv(rows), { query: 'process=true' });
      expect(reply.status).toBe(201);
      batchIds.push(String(reply.body.batchId));
    }
    for (const batchId of batchIds) {
      await waitFor(
        async () => (await call('GET', `/api/batches/${batchId}`)).body.status,
        (status) => status === 'completed',
        30_000,
        `batch ${batchId} completed`,
      );
    }
    await waitFor(
      () => clicksOn('2024-01-15'),
      (n) => n === 7,
      20_000,
      'clicks of 2024-01-15 counted',
    );
  }, 60_000);

  afterAll(async () => {
    await service.stop();
  });

  it('refuses a missing, empty or too long userId (400) and a request without the key (401)', async () => {
    expect((await erase({})).status).toBe(400);
    expect((await erase({ userId: '  ' })).status).toBe(400);
    const long = await erase({ userId: 'x'.repeat(257) });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.body)).not.toContain('x'.repeat(257));
    expect(
      (await call('POST', '/api/users/erase', { userId: 'victim' }, { 'content-type': 'application/json' }))
        .status,
    ).toBe(401);
    expect((await call('GET', '/api/users/erasures/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('removes the user everywhere, once per batch, and says what it changed', async () => {
    const fingerprint = service.runtime.userFingerprint('victim');
    const first = await erase({ userId: 'victim' });
    expect(first.status).toBe(200);
    expectDocumented('POST /api/users/erase', first);
    expect(first.body).toMatchObject({
      status: 'done',
      summary: {
        eventsRemoved: 3,
        batches: 2,
        days: ['2024-01-15', '2024-01-16'],
        eventTypes: ['click', 'view'],
      },
    });
    const erasureId = String(first.body.erasureId);

    expect(await rawEvents(db()).countDocuments({ userId: 'victim' })).toBe(0);
    expect(await rawEvents(db()).countDocuments({})).toBe(7);
    const chunks = await rawEventChunks(db()).find({}).toArray();
    expect(chunks.filter((c) => holdsUser(c, fingerprint))).toEqual([]);
    const rewritten = chunks.filter((c) => c.revision !== undefined);
    expect(rewritten.map((c) => c.revision)).toEqual(rewritten.map(() => 1));
    expect(rewritten.reduce((sum, c) => sum + (c.erased ?? 0), 0)).toBe(3);

    const records = await userErasedRecords();
    expect(records.map((r) => (r.data as { batchId: string }).batchId).sort()).toEqual(
      [batchIds[0], batchIds[1]].sort(),
    );
    let withdrawn = 0;
    for (const record of records) {
      const data = record.data as {
        user: string;
        chunks: { revision: number; withdrawn: Parameters<typeof forEachDetailCount>[0] }[];
      };
      expect(data.user).toBe(fingerprintHex(fingerprint));
      for (const chunk of data.chunks) {
        expect(chunk.revision).toBe(1);
        forEachDetailCount(chunk.withdrawn, (_type, _quarter, count) => (withdrawn += count));
      }
    }
    expect(withdrawn).toBe(3);

    const shown = await call('GET', `/api/users/erasures/${erasureId}`);
    expect(shown.body).toMatchObject({ erasureId, status: 'done', summary: first.body.summary });
    expectDocumented('GET /api/users/erasures/{id}', shown);
    expect(await userErasures(db()).findOne({ _id: erasureId })).not.toHaveProperty('userId');

    // Planning a batch again counts the erased events as BatchUploaded did (chunk `erased`).
    const reprocessed = await call('POST', `/api/batches/${String(batchIds[0])}/process`);
    expect(reprocessed.status).toBe(200);

    const second = await erase({ userId: 'victim' });
    expect(second.body).toMatchObject({ status: 'done', summary: { eventsRemoved: 0, batches: 0 } });
    expect(await userErasedRecords()).toHaveLength(2);
  });

  it("takes the user's events out of the read models (the projections' part of issue 24)", async () => {
    // After the erasure above: the victim's two clicks of the 15th no longer count.
    await waitFor(
      () => clicksOn('2024-01-15'),
      (n) => n === 5,
      20_000,
      'clicks of 2024-01-15 without the victim',
    );
  });

  it('drops a re-upload of erased events, accepts later ones, and drops those too after suppress: true', async () => {
    const again = await uploadCsv(service.baseUrl, csv(VICTIM_ROWS));
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ totalEvents: 0, duplicates: 0, suppressedEvents: 3 });
    expect(await rawEvents(db()).countDocuments({ userId: 'victim' })).toBe(0);

    const later = new Date(Date.now() + 60_000).toISOString();
    const fresh = await uploadCsv(service.baseUrl, csv([['victim', 'click', later]]));
    expect(fresh.body).toMatchObject({ totalEvents: 1, suppressedEvents: 0 });

    const posted = await fetch(`${service.baseUrl}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { userId: 'victim', eventType: 'view', timestamp: '2024-01-16T11:00:00Z' },
        { userId: 'dave', eventType: 'view', timestamp: '2024-01-16T11:00:00Z' },
      ]),
    });
    expect(await posted.json()).toMatchObject({ totalEvents: 1, duplicates: 0, suppressedEvents: 1 });

    const all = await erase({ userId: 'victim', suppress: true });
    expect(all.body).toMatchObject({ status: 'done', suppress: true, summary: { eventsRemoved: 1 } });
    const evenLater = new Date(Date.now() + 120_000).toISOString();
    const dropped = await uploadCsv(
      service.baseUrl,
      csv([
        ['victim', 'click', evenLater],
        ['erin', 'click', evenLater],
      ]),
    );
    expect(dropped.body).toMatchObject({ totalEvents: 1, suppressedEvents: 1 });
    expect(await rawEvents(db()).countDocuments({ userId: 'victim' })).toBe(0);
  });
});
