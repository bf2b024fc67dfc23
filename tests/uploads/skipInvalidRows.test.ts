import { expectDocumented } from '../support/openapi';
import { rawEvents, uploadCsv, type UploadReply } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';

interface Problem {
  field: string;
  count: number;
  rows: number[];
  message: string;
}

/** A Berlin export over the October change: 6 rows, 2 in the repeated hour, 1 in no form at all. */
const BERLIN_EXPORT = [
  'userId,eventType,timestamp',
  'u1,view,2024-10-27 01:30:00',
  'u2,view,2024-10-27 02:15:00',
  'u3,view,2024-10-27 02:45:00',
  'u4,view,2024-10-27 03:30:00',
  'u5,view,yesterday',
  'u6,view,2024-10-27 04:00:00',
].join('\n');

/** invalidRows=skip, ambiguous=earlier|later and the per-kind summary, on both upload routes. */
describe('an import that forgives', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;
  const storedUsers = async () =>
    (await rawEvents(db()).find({}).sort({ userId: 1 }).toArray()).map((e) => e.userId);
  const sendEvents = async (body: string, query: string): Promise<UploadReply> => {
    const res = await fetch(`${service.baseUrl}/api/events?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { UPLOAD_RATE_LIMIT: '1000' } });
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    await rawEvents(db()).deleteMany({});
  });

  it('stores the valid rows and reports the skipped ones with invalidRows=skip as a form field', async () => {
    const reply = await uploadCsv(service.baseUrl, BERLIN_EXPORT, {
      fields: { timezone: 'Europe/Berlin', invalidRows: 'skip' },
    });
    expect(reply.status).toBe(201);
    expectDocumented('POST /api/uploads', reply);
    expect(reply.body).toMatchObject({
      totalEvents: 3,
      duplicates: 0,
      skippedRows: 3,
      message: 'Stored 3 new events from 3 rows (0 duplicates); skipped 3 invalid rows',
    });
    expect(reply.body.skipped).toEqual([
      expect.objectContaining({ row: 3, field: 'timestamp', value: '2024-10-27 02:15:00' }),
      expect.objectContaining({ row: 4, field: 'timestamp', value: '2024-10-27 02:45:00' }),
      expect.objectContaining({ row: 6, field: 'timestamp', value: 'yesterday' }),
    ]);
    const problems = reply.body.problems as Problem[];
    expect(problems.map(({ field, count, rows }) => ({ field, count, rows }))).toEqual([
      { field: 'timestamp', count: 2, rows: [3, 4] },
      { field: 'timestamp', count: 1, rows: [6] },
    ]);
    expect(problems[0]?.message).toMatch(
      /^2 timestamps fall in the hour a daylight saving time change repeats: choose ambiguous=earlier/,
    );
    expect(problems[1]?.message).toMatch(/^1 timestamp is in none of the forms read .* timestampFormat/);
    expect(await storedUsers()).toEqual(['u1', 'u4', 'u6']);
  });

  it('resolves the repeated hour with ambiguous=earlier or later, as a query parameter or form field', async () => {
    const csv = 'userId,eventType,timestamp\nu1,view,2024-10-27 02:30:00\n';
    const earlier = await uploadCsv(service.baseUrl, csv, {
      query: 'timezone=Europe/Berlin&ambiguous=earlier',
    });
    expect(earlier).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    const later = await uploadCsv(service.baseUrl, csv, {
      fields: { timezone: 'Europe/Berlin', ambiguous: 'later' },
    });
    expect(later).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    const instants = (await rawEvents(db()).find({}).toArray()).map((e) => e.timestamp.toISOString()).sort();
    expect(instants).toEqual(['2024-10-27T00:30:00.000Z', '2024-10-27T01:30:00.000Z']);

    const gap = await uploadCsv(
      service.baseUrl,
      'userId,eventType,timestamp\nu1,view,2024-03-31 02:30:00\n',
      {
        query: 'timezone=Europe/Berlin&ambiguous=later',
      },
    );
    expect(gap.status).toBe(400);
    expect((gap.body.details as { message: string }[])[0]?.message).toMatch(
      /does not exist in Europe\/Berlin/,
    );
    const noZone = await uploadCsv(service.baseUrl, csv, { query: 'ambiguous=later' });
    expect(noZone).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/give timezone too/) as string },
    });
    const wrong = await uploadCsv(service.baseUrl, csv, { query: 'timezone=UTC&ambiguous=first' });
    expect(wrong).toMatchObject({
      status: 400,
      body: { message: 'ambiguous "first" must be earlier or later' },
    });
  });

  it('puts one line per kind before the row list when a strict upload is refused', async () => {
    const rows = Array.from(
      { length: 30 },
      (_, i) => `u${i},view,2024-01-15 10:${String(i).padStart(2, '0')}:00`,
    );
    const reply = await uploadCsv(service.baseUrl, ['userId,eventType,timestamp', ...rows].join('\n'));
    expect(reply.status).toBe(400);
    expectDocumented('POST /api/uploads', reply);
    expect(Object.keys(reply.body)).toEqual(['error', 'message', 'problems', 'details', 'errorCount']);
    expect(reply.body.problems).toEqual([
      {
        field: 'timestamp',
        count: 30,
        rows: [2, 3, 4, 5, 6],
        message:
          'all 30 timestamps have no zone: name it with the timezone option (Time zone in the web UI), e.g. timezone=Europe/Berlin',
      },
    ]);
    expect(reply.body.details).toHaveLength(30);
    expect(await storedUsers()).toEqual([]);
  });

  it('refuses a skipping upload whose every row is invalid, and an invalidRows field sent after the file', async () => {
    const none = await uploadCsv(
      service.baseUrl,
      'userId,eventType,timestamp\n,view,2024-01-15T10:00:00Z\n',
      {
        query: 'invalidRows=skip',
      },
    );
    expect(none).toMatchObject({
      status: 400,
      body: {
        message: 'Every row of the file is invalid (1 invalid value); nothing was stored',
        errorCount: 1,
      },
    });
    const late = await uploadCsv(service.baseUrl, BERLIN_EXPORT, {
      fields: { timezone: 'Europe/Berlin', invalidRows: 'skip' },
      fieldsAfterFile: true,
    });
    expect(late.status).toBe(400);
    expect(late.body.message).toMatch(/field came after the file, too late for its rows/);
    const wrong = await uploadCsv(service.baseUrl, BERLIN_EXPORT, { query: 'invalidRows=ignore' });
    expect(wrong).toMatchObject({
      status: 400,
      body: { message: 'invalidRows "ignore" must be strict or skip' },
    });
    expect(await storedUsers()).toEqual([]);
  });

  it('skips invalid events and resolves ambiguous times on POST /api/events', async () => {
    const body = [
      { userId: 'e1', eventType: 'view', timestamp: '2024-10-27 02:30:00' },
      { userId: 'e2', eventType: 'view', timestamp: 'soon' },
      { userId: '', eventType: 'view', timestamp: '2024-10-27 05:00:00' },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const reply = await sendEvents(body, 'timezone=Europe/Berlin&ambiguous=later&invalidRows=skip');
    expect(reply.status).toBe(201);
    expectDocumented('POST /api/events', reply);
    expect(reply.body).toMatchObject({
      totalEvents: 1,
      skippedRows: 2,
      skipped: [
        expect.objectContaining({ row: 1, field: 'timestamp' }),
        expect.objectContaining({ row: 2, field: 'userId' }),
      ],
    });
    expect((reply.body.problems as Problem[]).map((p) => p.count)).toEqual([1, 1]);
    const stored = await rawEvents(db()).find({}).toArray();
    expect(stored.map((e) => [e.userId, e.timestamp.toISOString()])).toEqual([
      ['e1', '2024-10-27T01:30:00.000Z'],
    ]);

    const strict = await sendEvents(body, 'timezone=Europe/Berlin');
    expect(strict.status).toBe(400);
    expect((strict.body.problems as Problem[]).map((p) => p.count)).toEqual([1, 1, 1]);
  });
});
