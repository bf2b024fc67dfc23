import { deflateSync, gzipSync } from 'node:zlib';
import { rawEvents, uploadCsv } from '../support/uploads';
import { expectDocumented } from '../support/openapi';
import { startTestService, type TestService } from '../support/testService';

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

const LIMIT = 64 * 1024;

/** POST /api/events: the same command, rules, dedupe, cap and limit as a CSV upload. */
describe('POST /api/events', () => {
  let service: TestService;
  let limited: TestService;
  const db = () => service.runtime.mongo.db;

  const send = async (
    base: string,
    body: string | ReadableStream<Uint8Array>,
    type = 'application/x-ndjson',
    query = '',
  ): Promise<Reply> => {
    const res = await fetch(`${base}/api/events${query}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
      ...(typeof body === 'string' ? {} : { duplex: 'half' }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  };
  const ndjson = (...events: unknown[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { MAX_UPLOAD_BYTES: String(LIMIT) } });
    limited = await startTestService({
      workers: false,
      env: { UPLOAD_RATE_LIMIT: '1', EVENTS_RATE_LIMIT: '5' },
    });
  });
  afterAll(async () => {
    await Promise.all([service.stop(), limited.stop()]);
  });
  beforeEach(async () => {
    await rawEvents(db()).deleteMany({});
  });

  it('stores ndjson events like an upload: 201 with new events and duplicates, epoch numbers read by digits', async () => {
    const reply = await send(
      service.baseUrl,
      ndjson(
        { userId: 'u1', eventType: 'click', timestamp: '2024-01-15T10:00:00Z', metadata: { page: '/home' } },
        { userId: 'u2', eventType: 'view', timestamp: 1705316400 },
        { userId: 'u1', eventType: 'click', timestamp: 1705312800000 },
      ) + '\n\n',
    );
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({
      totalEvents: 2,
      duplicates: 1,
      message: 'Stored 2 new events from 3 events (1 duplicate); processing started',
      processingStarted: true,
    });
    expectDocumented('POST /api/events', reply);
    expect(reply.headers.get('ratelimit')).toMatch(/"events"; r=\d+; t=\d+/);
    const docs = await rawEvents(db()).find({}).sort({ userId: 1 }).toArray();
    expect(docs.map((d) => [d.userId, d.eventType, d.timestamp.getTime(), d.metadata])).toEqual([
      ['u1', 'click', Date.UTC(2024, 0, 15, 10), { page: '/home' }],
      ['u2', 'view', Date.UTC(2024, 0, 15, 11), {}],
    ]);
    const batch = (await (
      await fetch(`${service.baseUrl}/api/batches/${String(reply.body.batchId)}`)
    ).json()) as {
      fileName: string;
      totalEvents: number;
    };
    expect(batch).toMatchObject({ fileName: 'POST /api/events', totalEvents: 2 });
  });

  it('takes a JSON array, and dedupes against events a CSV upload stored', async () => {
    const csv = await uploadCsv(
      service.baseUrl,
      'userId,eventType,timestamp\na1,click,2024-01-15T10:00:00Z\n',
    );
    expect(csv.status).toBe(201);
    const body = JSON.stringify([
      { userId: 'a1', eventType: 'click', timestamp: '2024-01-15T11:00:00+01:00' },
      { userId: 'a2', eventType: 'click', timestamp: '2024-01-15 10:00:00', metadata: null },
    ]);
    const reply = await send(
      service.baseUrl,
      ` \n${body}\n`,
      'application/json; charset=utf-8',
      '?timezone=UTC',
    );
    expect(reply).toMatchObject({
      status: 201,
      body: {
        totalEvents: 1,
        duplicates: 1,
        message: 'Stored 1 new event from 2 events (1 duplicate); processing started',
      },
    });
    const again = await send(service.baseUrl, body, 'application/json', '?timezone=UTC');
    expect(again.body).toMatchObject({
      totalEvents: 0,
      message: 'No new events in 2 events: all were already stored; processing started',
    });
  });

  it('refuses the whole body with row errors by index, echoing values, storing nothing', async () => {
    const reply = await send(
      service.baseUrl,
      [
        JSON.stringify({ userId: 'ok', eventType: 'click', timestamp: '2024-01-15T10:00:00Z' }),
        JSON.stringify({ userId: 'u1', eventType: 'click', timestamp: '2024-01-15 10:00:00' }),
        JSON.stringify({ userId: 42, eventType: 'click', timestamp: '2024-01-15T10:00:00Z' }),
        '{not json',
        JSON.stringify([1]),
        JSON.stringify({ userId: 'u5', eventType: 'click', timestamp: '2024-01-15T10:00:00Z', extra: 1 }),
        JSON.stringify({
          userId: 'u6',
          eventType: 'click',
          timestamp: '2024-01-15T10:00:00Z',
          metadata: [1],
        }),
      ].join('\n'),
    );
    expect(reply.status).toBe(400);
    expectDocumented('POST /api/events', reply);
    expect(reply.body).toMatchObject({
      message: 'The body has 6 invalid values; nothing was stored',
      errorCount: 6,
    });
    const details = reply.body.details as { row: number; field: string; message: string; value?: string }[];
    expect(details.map((d) => [d.row, d.field, d.value])).toEqual([
      [1, 'timestamp', '2024-01-15 10:00:00'],
      [2, 'userId', '42'],
      [3, '*', '{not json'],
      [4, '*', '[1]'],
      [5, 'extra', undefined],
      [6, 'metadata', '[1]'],
    ]);
    expect(details[0]?.message).toMatch(/upload option timezone/);
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('stops checking after 100 errors, saying the rest was not checked', async () => {
    // 30,000 events that are not objects: the first 100 are checked, the rest is only read.
    const many = await send(service.baseUrl, `[${'1,'.repeat(29_999)}1]`, 'application/json');
    expect(many.status).toBe(400);
    expectDocumented('POST /api/events', many);
    expect(many.body).toMatchObject({
      message:
        'The body has 100 invalid values in its first 100 events; the rest of the body was not checked. Nothing was stored',
      errorCount: 100,
      restUnchecked: true,
    });
    expect((many.body.details as { row: number }[]).map((d) => d.row)).toEqual([...Array(100).keys()]);
    // Exactly 100 errors with nothing after them: everything was checked.
    const hundred = await send(service.baseUrl, ndjson(...Array.from({ length: 100 }, () => 1)));
    expect(hundred.body).toMatchObject({
      message: 'The body has 100 invalid values; nothing was stored',
      errorCount: 100,
    });
    expect(hundred.body).not.toHaveProperty('restUnchecked');
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('refuses metadata and events nested thousands deep as row errors, not a 500', async () => {
    const deep = (depth: number, leaf: string) => {
      let text = leaf;
      for (let i = 0; i < depth; i++) text = `{"a":${text}}`;
      return text;
    };
    const metadata = await send(
      service.baseUrl,
      `{"userId":"d1","eventType":"click","timestamp":1705312800,"metadata":${deep(8000, '1')}}`,
    );
    expect(metadata.status).toBe(400);
    expectDocumented('POST /api/events', metadata);
    expect(metadata.body.details).toEqual([
      {
        row: 0,
        field: 'metadata',
        message: 'metadata is nested deeper than 20 levels',
        value: `${'{"a":'.repeat(20)}…`,
      },
    ]);
    const nested = '['.repeat(10_000) + ']'.repeat(10_000);
    const events = await send(
      service.baseUrl,
      `${nested}\n{"userId":${nested},"eventType":"click","timestamp":1705312800}`,
    );
    expect(events.status).toBe(400);
    expect(events.body.details).toEqual([
      expect.objectContaining({ row: 0, field: '*', value: `${'['.repeat(100)}…` }),
      { row: 1, field: 'userId', message: 'userId must be a string', value: `${'['.repeat(100)}…` },
    ]);
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('refuses a body that is not an array or an unclosed array, and an empty body', async () => {
    const object = await send(service.baseUrl, '{"userId":"u1"}', 'application/json');
    expect(object).toMatchObject({ status: 400, body: { error: 'ValidationError' } });
    expect(object.body.message).toMatch(/must be an array of events/);
    const open = await send(
      service.baseUrl,
      '[{"userId":"u1","eventType":"c","timestamp":1705312800}',
      'application/json',
    );
    expect(open.body.message).toBe('The JSON array cannot be read: the array is not closed with ]');
    const empty = await send(service.baseUrl, '[]', 'application/json');
    expect(empty).toMatchObject({ status: 400, body: { message: 'The body holds no events' } });
  });

  it('answers 415 for any other content type', async () => {
    const reply = await send(service.baseUrl, 'userId,eventType,timestamp\n', 'text/csv');
    expect(reply.status).toBe(415);
    expect(reply.body).toEqual({
      error: 'UnsupportedMediaType',
      message:
        'POST /api/events reads application/x-ndjson (one event per line) or application/json (an array of events), not text/csv; upload a CSV to POST /api/uploads',
    });
    expectDocumented('POST /api/events', reply);
  });

  it('reads a gzip or deflate body, capping what it decompresses to; other encodings and charsets get 415', async () => {
    const events = JSON.stringify([{ userId: 'z1', eventType: 'click', timestamp: 1705312800 }]);
    const post = async (body: Buffer | string, headers: Record<string, string>): Promise<Reply> => {
      const res = await fetch(`${service.baseUrl}/api/events`, { method: 'POST', headers, body });
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown>,
        headers: res.headers,
      };
    };
    const json = { 'content-type': 'application/json' };
    const gzip = await post(gzipSync(events), { ...json, 'content-encoding': 'gzip' });
    expect(gzip).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    const deflate = await post(deflateSync(events), { ...json, 'content-encoding': 'deflate' });
    expect(deflate).toMatchObject({ status: 201, body: { totalEvents: 0, duplicates: 1 } });

    // Far more than the limit once decompressed, a few hundred bytes on the wire.
    const bomb = gzipSync(`[${' '.repeat(LIMIT * 16)}]`);
    expect(bomb.length).toBeLessThan(LIMIT);
    const tooLarge = await post(bomb, { ...json, 'content-encoding': 'gzip' });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.message).toMatch(/larger than the upload limit of 64 KiB/);
    const broken = await post(gzipSync(events).subarray(0, 20), { ...json, 'content-encoding': 'gzip' });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toMatch(/^The body cannot be decompressed as its Content-Encoding says/);

    const brotli = await post(events, { ...json, 'content-encoding': 'br' });
    expect(brotli).toMatchObject({ status: 415, body: { error: 'UnsupportedMediaType' } });
    expect(brotli.body.message).toMatch(/Content-Encoding gzip or deflate, not br$/);
    expectDocumented('POST /api/events', brotli);
    const utf16 = await post(Buffer.from(events, 'utf16le'), {
      'content-type': 'application/json; charset=UTF-16',
    });
    expect(utf16).toEqual(
      expect.objectContaining({
        status: 415,
        body: {
          error: 'UnsupportedMediaType',
          message:
            'POST /api/events reads UTF-8 text only, not charset=utf-16; send the body as UTF-8 (charset=utf-8)',
        },
      }),
    );
    const unlabelled = await post(Buffer.from(`\ufeff${events}`, 'utf16le'), json);
    expect(unlabelled.status).toBe(400);
    expect(unlabelled.body.message).toBe(
      'The body is not UTF-8 text (it starts with the byte order mark of UTF-16 (little-endian)): send it as UTF-8',
    );
    const ascii = await post(events.replace('z1', 'z2'), {
      'content-type': 'application/json; charset="US-ASCII"',
    });
    expect(ascii).toMatchObject({ status: 201, body: { totalEvents: 1 } });
  });

  it('answers 413 naming the limit, whether the size is declared or only streamed', async () => {
    const line = `${JSON.stringify({ userId: 'big', eventType: 'click', timestamp: '2024-01-15T10:00:00Z' })}\n`;
    const declared = await send(service.baseUrl, line.repeat(Math.ceil((LIMIT * 2) / line.length)));
    expect(declared.status).toBe(413);
    expect(declared.body.message).toBe(
      'The body is larger than the upload limit of 64 KiB (MAX_UPLOAD_BYTES); send the events in smaller requests',
    );
    expectDocumented('POST /api/events', declared);
    // Streamed without a length: the server counts and stops at the cap, long before the stream
    // would end (a client on a busy machine may still push a few MiB before it hears so).
    const total = 4096 * LIMIT;
    let sent = 0;
    const piece = new TextEncoder().encode(line.repeat(100));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > total) controller.close();
        else {
          sent += piece.length;
          controller.enqueue(piece);
        }
      },
    });
    const streamed = await send(service.baseUrl, stream);
    expect(streamed.status).toBe(413);
    expect(sent).toBeLessThan(total);
    expect(await rawEvents(db()).countDocuments({})).toBe(0);
  });

  it('spends a budget of its own in events per client, not the uploads one: a post that would overdraw it gets 429', async () => {
    const csv = await uploadCsv(
      limited.baseUrl,
      'userId,eventType,timestamp\nr1,click,2024-01-15T10:00:00Z\n',
    );
    expect(csv.status).toBe(201);
    const event = (userId: string) => ({ userId, eventType: 'click', timestamp: 1705312800 });
    // The one upload a minute is spent; posts still go through, up to 5 events.
    const first = await send(limited.baseUrl, ndjson(event('r2'), event('r3'), event('r4')));
    expect(first.status).toBe(201);
    const over = await send(limited.baseUrl, ndjson(event('r5'), event('r6'), event('r7')));
    expect(over.status).toBe(429);
    expectDocumented('POST /api/events', over);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.body.message).toMatch(/EVENTS_RATE_LIMIT/);
    expect(await rawEvents(limited.runtime.mongo.db).countDocuments({ userId: 'r5' })).toBe(0);
    // The refused post charged nothing: two more events still fit.
    const fits = await send(limited.baseUrl, ndjson(event('r8'), event('r9')));
    expect(fits.status).toBe(201);
    expect(fits.headers.get('ratelimit')).toMatch(/"events"; r=0;/);
  });
});
