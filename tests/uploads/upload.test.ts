import { batchKeys } from '../../src/events/batchHistory';
import { eventKey } from '../../src/events/rawEvents';
import { expectDocumented } from '../support/openapi';
import { csvOfRows, rawEvents, uploadCsv } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';

describe('POST /api/uploads', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;
  const upload = (csv: string | Buffer, options?: { fileName?: string; field?: string }) =>
    uploadCsv(service.baseUrl, csv, options);

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { MAX_UPLOAD_BYTES: String(256 * 1024) } });
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    await rawEvents(db()).deleteMany({});
  });

  it('stores each new event once, appends BatchUploaded and answers 201', async () => {
    const csv =
      'userId,eventType,timestamp,metadata\n' +
      'u1,click,2024-01-15T10:00:00Z,"{""page"":""/home""}"\n' +
      'u2,view,2024-01-15T12:00:00+02:00,\n' +
      'u1,click,2024-01-15T10:00:00.000Z,\n';
    const { status, body } = await upload(csv, { fileName: 'first.csv' });
    expect(status).toBe(201);
    expectDocumented('POST /api/uploads', { status, body });
    expect(body).toMatchObject({ totalEvents: 2, duplicates: 1 });
    expect(body.batchId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof body.message).toBe('string');

    const batchId = body.batchId as string;
    const stored = await rawEvents(db()).find({ batchId }).sort({ userId: 1 }).toArray();
    expect(stored).toHaveLength(2);
    const first = stored[0];
    expect(first).toEqual({
      _id: eventKey('u1', 'click', Date.UTC(2024, 0, 15, 10)),
      batchId,
      userId: 'u1',
      eventType: 'click',
      timestamp: new Date('2024-01-15T10:00:00Z'),
      metadata: { page: '/home' },
      insertGroup: 0,
    });
    expect(stored[1]?.timestamp).toEqual(new Date('2024-01-15T10:00:00Z'));

    const record = await service.runtime.eventLog.findByKey(batchKeys.uploaded(batchId));
    expect(record?.streamId).toBe(`batch:${batchId}`);
    expect(record?.data).toEqual({
      batchId,
      fileName: 'first.csv',
      totalRows: 3,
      newEvents: 2,
      duplicates: 1,
      eventsPerChunk: service.config.processing.eventsPerChunk,
    });
  });

  it('stores a file whose later rows all repeat earlier ones (a part with nothing new to insert)', async () => {
    const rows = csvOfRows(1000, 70_000).trimEnd().split('\n');
    // The header, 1,000 distinct rows, then the same 1,000 rows again: the second part of 1,000 is all repeats.
    const csv = `${[...rows, ...rows.slice(1)].join('\n')}\n`;
    const reply = await upload(csv);
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ totalEvents: 1000, duplicates: 1000 });
  });

  it('answers a re-upload of a stored file with 201 and totalEvents 0', async () => {
    const csv = csvOfRows(50);
    const first = await upload(csv);
    expect(first.body).toMatchObject({ totalEvents: 50, duplicates: 0 });
    const again = await upload(csv);
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ totalEvents: 0, duplicates: 50 });
    expect(again.body.batchId).not.toBe(first.body.batchId);
    expect(await rawEvents(db()).countDocuments({})).toBe(50);
    const record = await service.runtime.eventLog.findByKey(batchKeys.uploaded(String(again.body.batchId)));
    expect(record?.data).toMatchObject({ newEvents: 0, duplicates: 50, totalRows: 50 });
  });

  it('accepts a BOM, CRLF, header names in any case with spaces, and extra columns as metadata', async () => {
    const csv = '\ufeff USERID ,EventType,TimeStamp,source\r\nu9, login ,2024-03-01T00:00:00-05:30,web\r\n';
    const { status, body } = await upload(csv);
    expect(status).toBe(201);
    expect(body).toMatchObject({ totalEvents: 1 });
    const [doc] = await rawEvents(db())
      .find({ batchId: body.batchId as string })
      .toArray();
    expect(doc).toMatchObject({
      userId: 'u9',
      eventType: 'login',
      timestamp: new Date('2024-03-01T05:30:00Z'),
      metadata: { source: 'web' },
    });
  });

  it('keys events unambiguously: a colon in userId cannot collide', async () => {
    const csv = 'userId,eventType,timestamp\na:b,c,2024-01-01T00:00:00Z\na,b:c,2024-01-01T00:00:00Z\n';
    const { body } = await upload(csv);
    expect(body).toMatchObject({ totalEvents: 2, duplicates: 0 });
  });

  it('rejects the whole file with row errors, line numbers and a count, storing nothing', async () => {
    const headBefore = await service.runtime.eventLog.head();
    const csv =
      'userId,eventType,timestamp,metadata\n' +
      'ok1,click,2024-01-15T10:00:00Z,\n' +
      ',click,2024-01-15T10:00:00Z,\n' +
      'u3,"multi\nline",2024-02-30T10:00:00Z,\n' +
      'u4,click,2024-01-15,\n' +
      'u5,click,2024-01-15T10:00:00,[1]\n' +
      'u6,click,2024-01-15T10:00:00Z,"{""$where"":1}"\n' +
      'u7,click,2024-01-15T10:00:00Z,"{""a.b"":1}"\n' +
      'u8,click,2024-01-15T10:00:00Z,"{""__proto__"":{""x"":1}}"\n' +
      `${'x'.repeat(257)},click,2024-01-15T10:00:00Z,\n` +
      'u9,click\n';
    const { status, body } = await upload(csv);
    expect(status).toBe(400);
    expectDocumented('POST /api/uploads', { status, body });
    expect(body.error).toBe('ValidationError');
    expect(body.errorCount).toBe(11);
    const details = body.details as { row: number; field: string; message: string }[];
    expect(details.map((d) => [d.row, d.field])).toEqual([
      [3, 'userId'],
      // A line break is a control character: refused in an identifier, while rows still count lines.
      [4, 'eventType'],
      [4, 'timestamp'],
      [6, 'timestamp'],
      [7, 'timestamp'],
      [7, 'metadata'],
      [8, 'metadata'],
      [9, 'metadata'],
      [10, 'metadata'],
      [11, 'userId'],
      [12, '*'],
    ]);
    const messages = details.map((d) => d.message);
    expect(messages[1]).toMatch(/U\+000A/);
    expect(messages[5]).toBe('metadata must be a JSON object');
    expect(messages[6]).toMatch(/\$where/);
    expect(messages[7]).toMatch(/a\.b/);
    expect(messages[8]).toMatch(/__proto__/);
    expect(messages[9]).toMatch(/256/);
    expect(messages[10]).toBe('expected 4 fields, found 2');
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
    expect(await service.runtime.eventLog.head()).toBe(headBefore);
  });

  it('rejects text the database cannot store, or that was not UTF-8, as row errors, storing nothing', async () => {
    const csv = Buffer.concat([
      Buffer.from(
        'userId,eventType,timestamp,metadata,source\n' +
          'ok,click,2024-01-15T10:00:00Z,,web\n' +
          'u\u00002,click,2024-01-15T10:00:00Z,,web\n' +
          'u3,cl\u0000ick,2024-01-15T10:00:00Z,,web\n' +
          'u4,click,2024-01-15T10:00:00Z,"{""a"":""x\\u0000y""}",web\n' +
          'u5,click,2024-01-15T10:00:00Z,"{""a"":{""b"":[1,[2]]}}",web\n' +
          'u6,click,2024-01-15T10:00:00Z,,w\u0000b\n' +
          'Jos',
      ),
      // "José" as Latin-1: 0xE9 is not UTF-8 on its own.
      Buffer.from([0xe9]),
      Buffer.from(',click,2024-01-15T10:00:00Z,,web\n'),
    ]);
    const { status, body } = await upload(csv);
    expect(status).toBe(400);
    const details = body.details as { row: number; field: string; message: string }[];
    expect(details).toEqual([
      { row: 3, field: 'userId', message: 'userId contains a NUL character', value: 'u\\u00002' },
      { row: 4, field: 'eventType', message: 'eventType contains a NUL character', value: 'cl\\u0000ick' },
      {
        row: 5,
        field: 'metadata',
        message: 'metadata value at "a" contains a NUL character',
        value: '{"a":"x\\u0000y"}',
      },
      {
        row: 6,
        field: 'metadata',
        message: 'metadata value at "a/b" holds an array inside an array',
        value: '{"a":{"b":[1,[2]]}}',
      },
      { row: 7, field: 'source', message: 'source contains a NUL character', value: 'w\\u0000b' },
      {
        row: 8,
        field: 'userId',
        message: expect.stringMatching(/not valid UTF-8.*save the file as UTF-8/) as string,
        value: 'Jos\ufffd',
      },
    ]);
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('answers 400 for a multipart body it cannot read, and keeps control characters out of file names', async () => {
    const part = (disposition: string) =>
      `--XX\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\nContent-Type: text/csv\r\n\r\n` +
      'userId,eventType,timestamp\nnamed,click,2024-01-15T10:00:00Z\n\r\n--XX--\r\n';
    const post = async (body: string) => {
      const res = await fetch(`${service.baseUrl}/api/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=XX' },
        body,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const broken = await post(
      part('filename="a.csv"').replace('Content-Type: text/csv', 'Content-Type text/csv'),
    );
    expect(broken.status).toBe(400);
    expect(broken.body).toEqual({
      error: 'ValidationError',
      message: 'The multipart body cannot be read: Malformed part header',
    });

    const named = await post(part("filename*=UTF-8''a%00b%0Ac.csv"));
    expect(named.status).toBe(201);
    const record = await service.runtime.eventLog.findByKey(batchKeys.uploaded(String(named.body.batchId)));
    expect(record?.data).toMatchObject({ fileName: 'a\\u0000b\\u000Ac.csv', newEvents: 1 });
  });

  it('lists the first 100 errors and stops checking there, saying so', async () => {
    const lines = ['userId,eventType,timestamp'];
    for (let i = 0; i < 150; i++) lines.push(`u${i},click,yesterday`);
    const { status, body } = await upload(lines.join('\n'));
    expect(status).toBe(400);
    expect(body.errorCount).toBe(100);
    expect(body.restUnchecked).toBe(true);
    expect(body.details).toHaveLength(100);
    expect((body.details as { row: number }[])[99]?.row).toBe(101);
  });

  it.each([
    ['an empty file', '', /empty/],
    ['a header only', 'userId,eventType,timestamp\r\n', /no data rows/],
    ['missing required columns', 'userId,when\nu1,2024-01-01T00:00:00Z\n', /eventType, timestamp/],
    [
      'unbalanced quotes',
      'userId,eventType,timestamp\nu1,"click,2024-01-01T00:00:00Z\n',
      /unbalanced quotes/,
    ],
    ['a duplicated column', 'userId,eventType,timestamp,USERID\nu1,c,2024-01-01T00:00:00Z,x\n', /twice/],
    ['an unsafe extra column name', 'userId,eventType,timestamp,$set\nu1,c,2024-01-01T00:00:00Z,x\n', /\$/],
  ])('answers 400 with a clear message for %s', async (_name, csv, message) => {
    const { status, body } = await upload(csv);
    expect(status).toBe(400);
    expect(body.error).toBe('ValidationError');
    expect(body.message).toMatch(message);
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('names the bad header, or the broken line, of a file read in several chunks', async () => {
    const rows = csvOfRows(6000).split('\n').slice(1).join('\n');
    const badHeader = `userId,when\n${rows}`;
    const brokenQuote = `userId,eventType,timestamp\nu0,"cl"ick,2024-01-15T10:00:00Z\n${rows}`;
    expect(Buffer.byteLength(brokenQuote)).toBeGreaterThan(3 * 64 * 1024);
    // Stopping early raced the rest of the file: 500s, or the wrong message, came back before.
    for (let attempt = 0; attempt < 3; attempt++) {
      const header = await upload(badHeader);
      expect(header.status).toBe(400);
      expect(header.body.message).toMatch(/^Missing required columns: eventType, timestamp/);
      const quote = await upload(brokenQuote);
      expect(quote.status).toBe(400);
      expect(quote.body.details).toEqual([
        {
          row: 2,
          field: '*',
          message: expect.stringMatching(/a quote appears where it is not allowed/) as string,
        },
      ]);
    }
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('answers 400 for a row longer than 64 KiB', async () => {
    const csv = `userId,eventType,timestamp\nu1,${'e'.repeat(70 * 1024)},2024-01-01T00:00:00Z\n`;
    const { status, body } = await upload(csv);
    expect(status).toBe(400);
    expect(body.message).toMatch(/64 KiB/);
  });

  it('answers 400 for a wrong field, no file, or a body that is not multipart', async () => {
    const wrong = await upload(csvOfRows(1), { field: 'csv' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toMatch(/"csv".*"file"/);

    const form = new FormData();
    form.append('note', 'hello');
    const noFile = await fetch(`${service.baseUrl}/api/uploads`, { method: 'POST', body: form });
    const noFileBody = (await noFile.json()) as { message: string };
    expect(noFile.status).toBe(400);
    expect(noFileBody.message).toMatch(/No file/);
    expectDocumented('POST /api/uploads', { status: noFile.status, body: noFileBody });

    const json = await fetch(`${service.baseUrl}/api/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: csvOfRows(1),
    });
    expect(json.status).toBe(400);
  });

  it('answers 413 for a file over MAX_UPLOAD_BYTES and stores nothing', async () => {
    const csv = csvOfRows(10_000);
    expect(Buffer.byteLength(csv)).toBeGreaterThan(256 * 1024);
    const { status, body } = await upload(csv);
    expect(status).toBe(413);
    expectDocumented('POST /api/uploads', { status, body });
    expect(body.error).toBe('PayloadTooLarge');
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('stores overlapping files uploaded at the same time once, without failing', async () => {
    const a = csvOfRows(3000, 0);
    const b = csvOfRows(3000, 1500);
    const c = csvOfRows(3000, 0);
    const replies = await Promise.all([upload(a), upload(b), upload(c)]);
    for (const r of replies) expect(r.status).toBe(201);
    const newEvents = replies.reduce((n, r) => n + (r.body.totalEvents as number), 0);
    expect(newEvents).toBe(4500);
    for (const r of replies) {
      expect((r.body.totalEvents as number) + (r.body.duplicates as number)).toBe(3000);
    }
    expect(await rawEvents(db()).countDocuments({})).toBe(4500);
    for (const r of replies) {
      const owned = await rawEvents(db()).countDocuments({ batchId: r.body.batchId as string });
      expect(owned).toBe(r.body.totalEvents);
    }
  });
});
