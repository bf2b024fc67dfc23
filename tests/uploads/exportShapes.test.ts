import { expectDocumented } from '../support/openapi';
import { rawEvents, uploadCsv, type UploadReply } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';

/** Column names of real exports, the columns mapping, Mixpanel and Amplitude JSON, declared timestamp formats. */
describe('exports of other tools', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;
  /** userId, eventType, UTC instant and metadata of each stored event, by userId. */
  const stored = async () =>
    (await rawEvents(db()).find({}).sort({ userId: 1 }).toArray()).map((e) => [
      e.userId,
      e.eventType,
      e.timestamp.toISOString(),
      e.metadata,
    ]);
  const sendEvents = async (events: unknown[], query = ''): Promise<UploadReply> => {
    const res = await fetch(`${service.baseUrl}/api/events${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
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

  it('reads an Amplitude CSV export by its column names, insert_id kept in metadata', async () => {
    const csv =
      'user_id,event_type,event_time,event_properties,insert_id\n' +
      'a1,Play,2024-01-15T10:00:00Z,"{""song"":""x""}",ins-1\n';
    const reply = await uploadCsv(service.baseUrl, csv);
    expect(reply).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    expect(await stored()).toEqual([
      ['a1', 'Play', '2024-01-15T10:00:00.000Z', { song: 'x', insert_id: 'ins-1' }],
    ]);
  });

  it('reads a semicolon file with Mixpanel-style names, and says which names would help otherwise', async () => {
    const reply = await uploadCsv(service.baseUrl, 'Event;Distinct_ID;Time\nsignup;m1;1705312800\n');
    expect(reply).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    expect(await stored()).toEqual([['m1', 'signup', '2024-01-15T10:00:00.000Z', {}]]);
    const unknown = await uploadCsv(
      service.baseUrl,
      'candidate_id,action,timestamp\nc1,apply,2024-01-15T10:00:00Z\n',
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(
      /^Missing required columns: userId, eventType \(the header line must name userId \(or user_id, distinct_id\), eventType \(or event_type, event_name, event\).*columns option, e\.g\. columns=userId:candidate_id,eventType:action/,
    );
  });

  it('maps columns with the columns option, as a form field, a query parameter and on /api/events', async () => {
    const csv = 'candidate_id,action,timestamp\nc1,apply,2024-01-15T10:00:00Z\n';
    const field = await uploadCsv(service.baseUrl, csv, {
      fields: { columns: 'userId:candidate_id,eventType:action' },
    });
    expect(field).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    const query = await uploadCsv(service.baseUrl, csv.replace('c1', 'c2'), {
      query: `columns=${encodeURIComponent('userId:candidate_id,eventType:action')}`,
    });
    expect(query).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    const json = await sendEvents(
      [{ candidate_id: 'c3', action: 'apply', timestamp: '2024-01-15T10:00:00Z' }],
      '?columns=userId:candidate_id,eventType:action',
    );
    expect(json).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    expect((await stored()).map(([user, type]) => [user, type])).toEqual([
      ['c1', 'apply'],
      ['c2', 'apply'],
      ['c3', 'apply'],
    ]);
    const bad = await uploadCsv(service.baseUrl, csv, { query: 'columns=user:candidate_id' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/must be field:column pairs/);
  });

  it('reads Mixpanel and Amplitude events on /api/events', async () => {
    const reply = await sendEvents([
      {
        event: 'Signed Up',
        properties: {
          time: 1705312800,
          distinct_id: 'mp1',
          $insert_id: 'abc',
          $browser: 'Firefox',
          plan: 'pro',
        },
      },
      { event: 'Signed Up', properties: { time: 1705312800123, distinct_id: 'mp2' } },
      {
        user_id: 'amp1',
        event_type: 'Play',
        time: 1705312800000,
        event_properties: { song: 'x' },
        insert_id: 'i-1',
      },
    ]);
    expect(reply.status).toBe(201);
    expectDocumented('POST /api/events', reply);
    expect(await stored()).toEqual([
      ['amp1', 'Play', '2024-01-15T10:00:00.000Z', { song: 'x', insert_id: 'i-1' }],
      ['mp1', 'Signed Up', '2024-01-15T10:00:00.000Z', { insert_id: 'abc', browser: 'Firefox', plan: 'pro' }],
      ['mp2', 'Signed Up', '2024-01-15T10:00:00.123Z', {}],
    ]);
    const bad = await sendEvents([{ event: 'x', properties: { time: 1705312800 } }]);
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([{ row: 0, field: 'userId', message: 'userId is required', value: '' }]);
  });

  it('reads declared timestamp formats in the timezone, as a form field, a query parameter and on /api/events', async () => {
    const csv = 'userId,eventType,timestamp\nd1,view,02.02.2024 13:54\nd2,view,15.07.2024 00:00\n';
    const field = await uploadCsv(service.baseUrl, csv, {
      fields: { timezone: 'Europe/Berlin', timestampFormat: 'DD.MM.YYYY HH:mm' },
    });
    expect(field).toMatchObject({ status: 201, body: { totalEvents: 2 } });
    const dateOnly = await uploadCsv(service.baseUrl, 'userId,eventType,timestamp\nd3,view,01/15/2024\n', {
      query: `timezone=America/New_York&timestampFormat=${encodeURIComponent('MM/DD/YYYY')}`,
    });
    expect(dateOnly).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    const micros = await sendEvents(
      [{ userId: 'd4', eventType: 'view', timestamp: 1705312800123456 }],
      '?timestampFormat=epoch_us',
    );
    expect(micros).toMatchObject({ status: 201, body: { totalEvents: 1 } });
    expect((await stored()).map(([user, , at]) => [user, at])).toEqual([
      ['d1', '2024-02-02T12:54:00.000Z'],
      ['d2', '2024-07-14T22:00:00.000Z'],
      ['d3', '2024-01-15T05:00:00.000Z'],
      ['d4', '2024-01-15T10:00:00.123Z'],
    ]);

    const noZone = await uploadCsv(service.baseUrl, csv, { fields: { timestampFormat: 'DD.MM.YYYY HH:mm' } });
    expect(noZone.status).toBe(400);
    expect(noZone.body.message).toMatch(/^timestampFormat DD\.MM\.YYYY HH:mm has no zone: name the zone/);
    const unknown = await uploadCsv(service.baseUrl, csv, { query: 'timezone=UTC&timestampFormat=D.M.YY' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(
      /^timestampFormat "D\.M\.YY" is not one of the formats read: DD\.MM\.YYYY/,
    );
    const mismatch = await uploadCsv(
      service.baseUrl,
      'userId,eventType,timestamp\nd5,view,2024-01-15T10:00:00Z\n',
      {
        query: `timezone=UTC&timestampFormat=${encodeURIComponent('DD/MM/YYYY')}`,
      },
    );
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.problems).toEqual([
      {
        field: 'timestamp',
        count: 1,
        rows: [2],
        message: '1 row: timestamp does not match timestampFormat DD/MM/YYYY',
      },
    ]);
  });
});
