import { eventKey } from '../../src/events/rawEvents';
import { rawEvents, uploadCsv } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

interface RowErrorBody {
  row: number;
  field: string;
  message: string;
}

/** Rules about what a row may hold, checked at upload so that nothing stored can fail later. */
describe('upload rules', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;
  const upload = (csv: string) => uploadCsv(service.baseUrl, csv);

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    await rawEvents(db()).deleteMany({});
  });

  it('refuses instants whose UTC day has no four-digit year, naming the allowed range', async () => {
    const csv =
      'userId,eventType,timestamp\n' +
      'u1,click,9999-12-31T23:59:59.999-23:59\n' +
      'u2,click,0000-01-01T00:00:00+23:59\n' +
      'u3,click,9999-12-31T23:59:59.999Z\n';
    const { status, body } = await upload(csv);
    expect(status).toBe(400);
    const details = body.details as RowErrorBody[];
    expect(details.map((d) => [d.row, d.field])).toEqual([
      [2, 'timestamp'],
      [3, 'timestamp'],
    ]);
    for (const d of details) {
      expect(d.message).toContain('0000-01-01T00:00:00Z');
      expect(d.message).toContain('9999-12-31T23:59:59.999Z');
    }
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('stores and processes the first and last instants of the allowed range', async () => {
    const csv =
      'userId,eventType,timestamp\n' +
      'edge,first,0000-01-01T00:00:00Z\n' +
      'edge,last,9999-12-31T23:59:59.999Z\n' +
      'edge,offset,0001-01-01T23:59:00+23:59\n';
    const uploaded = await upload(csv);
    expect(uploaded).toMatchObject({ status: 201, body: { totalEvents: 3 } });
    const batchId = uploaded.body.batchId as string;
    const processed = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(processed.status).toBe(202);
    const batch = await waitFor(
      async () =>
        (await (await fetch(`${service.baseUrl}/api/batches/${batchId}`)).json()) as Record<string, unknown>,
      (b) => b.status === 'completed' || b.status === 'failed',
      60_000,
      'batch to finish',
    );
    expect(batch).toMatchObject({ status: 'completed', processedEvents: 3 });
  });

  it('stores canonically equivalent identifiers once, in NFC', async () => {
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    const csv =
      'userId,eventType,timestamp\n' +
      `${composed},${decomposed},2024-01-15T10:00:00Z\n` +
      `${decomposed},${composed},2024-01-15T10:00:00Z\n`;
    const { status, body } = await upload(csv);
    expect(status).toBe(201);
    expect(body).toMatchObject({ totalEvents: 1, duplicates: 1 });
    const stored = await rawEvents(db()).find({}).toArray();
    expect(stored.map((e) => [e._id, e.userId, e.eventType])).toEqual([
      [eventKey(composed, composed, Date.UTC(2024, 0, 15, 10)), composed, composed],
    ]);
  });

  it('refuses invisible, bidi-override and control characters in identifiers as row errors', async () => {
    const csv =
      'userId,eventType,timestamp\n' +
      'u1,purchase,2024-01-15T10:00:00Z\n' +
      'u2,pur\u200bchase,2024-01-15T10:00:00Z\n' +
      'u3,\u202eesahcrup,2024-01-15T10:00:00Z\n' +
      'u4,purchase\u2066,2024-01-15T10:00:00Z\n' +
      'u\u00ad5,purchase,2024-01-15T10:00:00Z\n' +
      'u6,"pur\tchase",2024-01-15T10:00:00Z\n' +
      'u7,purchase\u2028x,2024-01-15T10:00:00Z\n';
    const { status, body } = await upload(csv);
    expect(status).toBe(400);
    expect(body.details).toEqual([
      // The echoed value shows each invisible character as an escape, never the character itself.
      {
        row: 3,
        field: 'eventType',
        message: expect.stringContaining('U+200B') as string,
        value: 'pur\\u200Bchase',
      },
      {
        row: 4,
        field: 'eventType',
        message: expect.stringContaining('U+202E') as string,
        value: '\\u202Eesahcrup',
      },
      {
        row: 5,
        field: 'eventType',
        message: expect.stringContaining('U+2066') as string,
        value: 'purchase\\u2066',
      },
      { row: 6, field: 'userId', message: expect.stringContaining('U+00AD') as string, value: 'u\\u00AD5' },
      {
        row: 7,
        field: 'eventType',
        message: expect.stringContaining('U+0009') as string,
        value: 'pur\\u0009chase',
      },
      {
        row: 8,
        field: 'eventType',
        message: expect.stringContaining('U+2028') as string,
        value: 'purchase\\u2028x',
      },
    ]);
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('refuses a header with more columns than allowed as an error of line 1', async () => {
    const extra = Array.from({ length: 10_000 }, (_, i) => `c${i}`);
    const header = ['userId', 'eventType', 'timestamp', ...extra].join(',');
    const row = ['u1', 'click', '2024-01-15T10:00:00Z', ...extra.map(() => '')].join(',');
    expect(Buffer.byteLength(header)).toBeLessThan(64 * 1024);
    const { status, body } = await upload(`${header}\n${row}\n`);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'ValidationError', errorCount: 1 });
    expect(body.details).toEqual([
      { row: 1, field: '*', message: expect.stringMatching(/10003 columns.*at most 100/) as string },
    ]);
    expect(body.message).toMatch(/at most 100 columns/);
  });

  it('still finds an extra column that repeats a metadata key, with the most columns allowed', async () => {
    const extra = Array.from({ length: 96 }, (_, i) => `c${i}`);
    const header = ['userId', 'eventType', 'timestamp', 'metadata', ...extra].join(',');
    const row = (metadata: string) =>
      ['u1', 'click', '2024-01-15T10:00:00Z', metadata, ...extra.map((c) => `v-${c}`)].join(',');
    const clash = await upload(`${header}\n${row('"{""c95"":1}"')}\n`);
    expect(clash.status).toBe(400);
    expect(clash.body.details).toEqual([
      { row: 2, field: 'c95', message: 'column "c95" repeats a key of metadata', value: 'v-c95' },
    ]);
    const fine = await upload(`${header}\n${row('"{""note"":1}"')}\n`);
    expect(fine.status).toBe(201);
    const [stored] = await rawEvents(db()).find({}).toArray();
    expect(Object.keys(stored?.metadata ?? {})).toHaveLength(97);
  });
});
