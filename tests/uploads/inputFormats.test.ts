import { once } from 'node:events';
import { gzipSync, createGzip } from 'node:zlib';
import { rawEvents, uploadCsv } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';

interface RowErrorBody {
  row: number;
  field: string;
  message: string;
  value?: string;
}

const LIMIT = 512 * 1024;

/** The forms real exports use: other delimiters, epoch times, zone-less times with a zone, gzip. */
describe('accepted input forms', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;
  /** The stored instants (UTC ms) by userId. */
  const stored = async () => {
    const docs = await rawEvents(db()).find({}).toArray();
    return Object.fromEntries(docs.map((d) => [d.userId, d.timestamp.getTime()]));
  };
  const details = (body: Record<string, unknown>) => body.details as RowErrorBody[];

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { MAX_UPLOAD_BYTES: String(LIMIT) } });
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    await rawEvents(db()).deleteMany({});
  });

  describe('delimiters', () => {
    it.each([
      ['semicolon', ';'],
      ['tab', '\t'],
      ['comma', ','],
    ])('reads a %s-separated file, with the delimiter inside quoted values', async (_name, d) => {
      const csv =
        `userId${d}eventType${d}timestamp${d}note\n` +
        `u1${d}click${d}2024-01-15T10:00:00Z${d}"a${d}b"\n` +
        `u2${d}view${d}2024-01-15T11:00:00Z${d}\n`;
      const reply = await uploadCsv(service.baseUrl, csv);
      expect(reply).toMatchObject({ status: 201, body: { totalEvents: 2, duplicates: 0 } });
      const docs = await rawEvents(db()).find({}).sort({ userId: 1 }).toArray();
      expect(docs.map((e) => [e.userId, e.eventType, e.metadata])).toEqual([
        ['u1', 'click', { note: `a${d}b` }],
        ['u2', 'view', { note: '' }],
      ]);
    });

    it('says which delimiters it tried when the header names no required columns', async () => {
      const reply = await uploadCsv(service.baseUrl, 'user|type|time\nu1|click|2024-01-15T10:00:00Z\n');
      expect(reply.status).toBe(400);
      expect(reply.body.message).toBe(
        'Missing required columns: userId, eventType, timestamp (the header line must name userId (or user_id, ' +
          'distinct_id), eventType (or event_type, event_name, event) and timestamp (or time, event_time); or map yours with ' +
          'the columns option, e.g. columns=userId:candidate_id,eventType:action; the header was read with the ' +
          'delimiter comma (,); semicolon (;) and tab were tried too and none of them split it into userId, ' +
          'eventType and timestamp)',
      );
    });

    it('refuses a header that two delimiters would both read', async () => {
      const reply = await uploadCsv(
        service.baseUrl,
        'userId,eventType,timestamp,x;userId;eventType;timestamp\nx\n',
      );
      expect(reply.status).toBe(400);
      expect(reply.body.message).toMatch(/more than one delimiter \(comma \(,\), semicolon \(;\)\)/);
    });
  });

  describe('timestamps', () => {
    it('reads epoch seconds (10 digits, optional fraction) and epoch milliseconds (13 digits)', async () => {
      const csv =
        'userId,eventType,timestamp\n' +
        'sec,click,1705312800\nfrac,click,1705312800.25\nms,click,1705312800123\nspace,click,2024-01-15 10:00:00+01:00\n';
      const reply = await uploadCsv(service.baseUrl, csv);
      expect(reply).toMatchObject({ status: 201, body: { totalEvents: 4 } });
      expect(await stored()).toEqual({
        sec: Date.UTC(2024, 0, 15, 10),
        frac: Date.UTC(2024, 0, 15, 10, 0, 0, 250),
        ms: Date.UTC(2024, 0, 15, 10, 0, 0, 123),
        space: Date.UTC(2024, 0, 15, 9),
      });
    });

    it('refuses numbers of other lengths, saying the rule and echoing the value', async () => {
      const csv = 'userId,eventType,timestamp\nu1,click,20240115\nu2,click,17053128001\n';
      const reply = await uploadCsv(service.baseUrl, csv);
      expect(reply.status).toBe(400);
      expect(details(reply.body)).toEqual([
        {
          row: 2,
          field: 'timestamp',
          value: '20240115',
          message:
            'timestamp a number is read as epoch seconds only with exactly 10 digits (e.g. 1705312800) and as ' +
            'epoch milliseconds only with exactly 13 (e.g. 1705312800000); this one has 8; microseconds ' +
            '(16 digits) read with the upload option timestampFormat=epoch_us',
        },
        expect.objectContaining({
          row: 3,
          value: '17053128001',
          message: expect.stringMatching(/this one has 11; microseconds/) as string,
        }),
      ]);
    });

    it('refuses a date-time without a zone unless the upload names one, naming the option', async () => {
      const csv = 'userId,eventType,timestamp\nu1,click,2024-01-15 10:00:00\nu2,click,2024-01-15T10:00\n';
      const reply = await uploadCsv(service.baseUrl, csv);
      expect(reply.status).toBe(400);
      const [first, second] = details(reply.body);
      expect(first).toMatchObject({ row: 2, field: 'timestamp', value: '2024-01-15 10:00:00' });
      expect(first?.message).toMatch(
        /has no zone: .*upload option timezone \(e\.g\. timezone=Europe\/Berlin\)/,
      );
      expect(second).toMatchObject({ row: 3, value: '2024-01-15T10:00' });
      expect(await rawEvents(db()).countDocuments({})).toBe(0);
    });

    it('reads zone-less date-times in the zone named by the timezone field or query parameter', async () => {
      const csv =
        'userId,eventType,timestamp\n' +
        'winter,click,2024-01-15 10:00:00\nsummer,click,2024-07-15T10:00\nzoned,click,2024-07-15T10:00:00Z\n' +
        'epoch,click,1705312800\n';
      const reply = await uploadCsv(service.baseUrl, csv, { fields: { timezone: 'Europe/Berlin' } });
      expect(reply).toMatchObject({ status: 201, body: { totalEvents: 4 } });
      expect(await stored()).toEqual({
        winter: Date.UTC(2024, 0, 15, 9),
        summer: Date.UTC(2024, 6, 15, 8),
        zoned: Date.UTC(2024, 6, 15, 10),
        epoch: Date.UTC(2024, 0, 15, 10),
      });

      await rawEvents(db()).deleteMany({});
      const viaQuery = await uploadCsv(
        service.baseUrl,
        'userId,eventType,timestamp\nny,click,2024-01-15 10:00\n',
        {
          query: 'timezone=America/New_York',
        },
      );
      expect(viaQuery.status).toBe(201);
      expect(await stored()).toEqual({ ny: Date.UTC(2024, 0, 15, 15) });
    });

    it('refuses a wall time in a DST gap or overlap, saying which', async () => {
      const csv =
        'userId,eventType,timestamp\ngap,click,2024-03-31 02:30:00\noverlap,click,2024-10-27 02:30:00\n';
      const reply = await uploadCsv(service.baseUrl, csv, { fields: { timezone: 'Europe/Berlin' } });
      expect(reply.status).toBe(400);
      expect(details(reply.body)).toEqual([
        {
          row: 2,
          field: 'timestamp',
          value: '2024-03-31 02:30:00',
          message:
            'timestamp does not exist in Europe/Berlin: the clocks skip that time (a daylight saving time gap); ' +
            'write it with an offset if it is right',
        },
        {
          row: 3,
          field: 'timestamp',
          value: '2024-10-27 02:30:00',
          message:
            'timestamp happens twice in Europe/Berlin (the clocks go back: a daylight saving time overlap); ' +
            'write it with its offset, +02:00 for the first or +01:00 for the second, or choose one for every ' +
            'such time with the upload option ambiguous=earlier or ambiguous=later',
        },
      ]);
    });

    it('refuses an unknown zone name and a timezone field sent after the file', async () => {
      const csv = 'userId,eventType,timestamp\nu1,click,2024-01-15 10:00:00\n';
      const unknown = await uploadCsv(service.baseUrl, csv, { fields: { timezone: 'Mars/Olympus' } });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toMatch(/^timezone "Mars\/Olympus" is not an IANA time zone name/);
      const late = await uploadCsv(service.baseUrl, csv, {
        fields: { timezone: 'Europe/Berlin' },
        fieldsAfterFile: true,
      });
      expect(late.status).toBe(400);
      expect(late.body.message).toMatch(/timezone field came after the file/);
      expect(await rawEvents(db()).countDocuments({})).toBe(0);
    });

    it('echoes a long timezone option cut to 100 characters, as row errors echo values', async () => {
      const csv = 'userId,eventType,timestamp\nu1,click,2024-01-15 10:00:00\n';
      const long = 'Z'.repeat(62_000);
      const twice = await uploadCsv(service.baseUrl, csv, {
        query: 'timezone=UTC',
        fields: { timezone: long },
      });
      expect(twice.status).toBe(400);
      expect(twice.body.message).toBe(
        `The timezone option is given twice with different values ("UTC" and "${'Z'.repeat(100)}…")`,
      );
      const unknown = await uploadCsv(service.baseUrl, csv, { fields: { timezone: long } });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toMatch(new RegExp(`^timezone "${'Z'.repeat(100)}…" is not an IANA`));
    });
  });

  it('echoes the offending value in every row error, cut to 100 characters', async () => {
    const long = 'x'.repeat(300);
    const csv =
      'userId,eventType,timestamp,metadata\n' +
      `${'u'.repeat(257)},click,2024-01-15T10:00:00Z,\n` +
      `u2,click,${long},\n` +
      'u3,click,2024-01-15T10:00:00Z,[1]\n' +
      'u4,click\n';
    const reply = await uploadCsv(service.baseUrl, csv);
    expect(reply.status).toBe(400);
    expect(details(reply.body)).toEqual([
      {
        row: 2,
        field: 'userId',
        message: 'userId is longer than 256 characters',
        value: `${'u'.repeat(100)}…`,
      },
      expect.objectContaining({ row: 3, field: 'timestamp', value: `${'x'.repeat(100)}…` }),
      { row: 4, field: 'metadata', message: 'metadata must be a JSON object', value: '[1]' },
      { row: 5, field: '*', message: 'expected 4 fields, found 2', value: 'u4,click' },
    ]);
  });

  it('stops checking after 100 errors and reads the rest of the file without parsing it', async () => {
    // A broken quote after the first 100 errors would be reported were the rest still parsed.
    const csv =
      'userId,eventType,timestamp\n' + 'u1,click,never\n'.repeat(3000) + 'u2,"click,2024-01-15T10:00:00Z\n';
    const reply = await uploadCsv(service.baseUrl, csv);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({
      message:
        'The file has 100 invalid values in its first 100 rows; the rest of the file was not checked. Nothing was stored',
      errorCount: 100,
      restUnchecked: true,
    });
    expect(details(reply.body).map((d) => d.row)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
    const exactly = await uploadCsv(
      service.baseUrl,
      'userId,eventType,timestamp\n' + 'u1,click,never\n'.repeat(100),
    );
    expect(exactly.body).toMatchObject({ message: 'The file has 100 invalid values; nothing was stored' });
    expect(exactly.body).not.toHaveProperty('restUnchecked');
  });

  it('reads UTF-16 little-endian with its byte order mark, and refuses other UTF-16 saying so', async () => {
    const csv = 'userId,eventType,timestamp\n\u00fc1,click,2024-01-15T10:00:00Z\n';
    const le = await uploadCsv(service.baseUrl, Buffer.from(`\ufeff${csv}`, 'utf16le'));
    expect(le).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    expect(Object.keys(await stored())).toEqual(['\u00fc1']);
    const be = await uploadCsv(service.baseUrl, Buffer.from(`\ufeff${csv}`, 'utf16le').swap16());
    expect(be.status).toBe(400);
    expect(be.body.message).toBe(
      'The file is not UTF-8 text (it starts with the byte order mark of UTF-16 (big-endian)): save it as UTF-8 and upload it again',
    );
    const bare = await uploadCsv(service.baseUrl, Buffer.from(csv, 'utf16le'));
    expect(bare.status).toBe(400);
    expect(bare.body.message).toMatch(
      /^The file is not UTF-8 text \(it starts with a NUL byte, as UTF-16 text does\)/,
    );
  });

  it('skips rows whose cells are all empty, as blank lines', async () => {
    const csv =
      ',,,\nuserId,eventType,timestamp,metadata\n,,,\nu1,click,2024-01-15T10:00:00Z,\n;;;\n , ,,\n\nu2,click,2024-01-15T11:00:00Z,\n,,,\n';
    const reply = await uploadCsv(service.baseUrl, csv.replace(';;;\n', ''));
    expect(reply).toMatchObject({
      status: 201,
      body: { totalEvents: 2, message: 'Stored 2 new events from 2 rows (0 duplicates)' },
    });
  });

  describe('gzip', () => {
    const csv = 'userId,eventType,timestamp\ng1,click,2024-01-15T10:00:00Z\ng2,click,2024-01-16T10:00:00Z\n';

    it('reads a .csv.gz file, and a gzip file by its magic bytes whatever its name', async () => {
      const named = await uploadCsv(service.baseUrl, gzipSync(csv), { fileName: 'events.csv.gz' });
      expect(named).toMatchObject({ status: 201, body: { totalEvents: 2 } });
      await rawEvents(db()).deleteMany({});
      const sniffed = await uploadCsv(service.baseUrl, gzipSync(csv), { fileName: 'export.csv' });
      expect(sniffed).toMatchObject({ status: 201, body: { totalEvents: 2 } });
    });

    it('refuses a truncated gzip file', async () => {
      const whole = gzipSync(csv);
      const reply = await uploadCsv(service.baseUrl, whole.subarray(0, whole.length - 10), {
        fileName: 'events.csv.gz',
      });
      expect(reply.status).toBe(400);
      expect(reply.body.message).toMatch(/^The file is not a readable gzip file/);
    });

    it('answers 413 naming the limit for a gzip bomb, reading no more than the cap of it', async () => {
      // 128 MiB of valid rows (256 times the limit) in a few hundred KiB of gzip.
      const gzip = createGzip({ level: 9 });
      const parts: Buffer[] = [];
      gzip.on('data', (part: Buffer) => parts.push(part));
      const block = Buffer.from('b1,click,2024-01-15T10:00:00Z\n'.repeat(2048));
      gzip.write('userId,eventType,timestamp\n');
      const blocks = Math.ceil((128 * 1024 * 1024) / block.length);
      for (let i = 0; i < blocks; i++) if (!gzip.write(block)) await once(gzip, 'drain');
      gzip.end();
      await once(gzip, 'end');
      const bomb = Buffer.concat(parts);
      expect(bomb.length).toBeLessThan(LIMIT);

      const before = process.memoryUsage().rss;
      const reply = await uploadCsv(service.baseUrl, bomb, { fileName: 'bomb.csv.gz' });
      const grew = process.memoryUsage().rss - before;
      expect(reply).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge' } });
      expect(reply.body.message).toBe(
        'The file is larger than the upload limit of 512 KiB (MAX_UPLOAD_BYTES) once decompressed; ' +
          'split it into smaller files and upload them one at a time',
      );
      // Hang guard for memory, not a measurement: decompressing all of it would hold 128 MiB.
      expect(grew).toBeLessThan(128 * 1024 * 1024);
      expect(await rawEvents(db()).countDocuments({})).toBe(0);
    });
  });
});
