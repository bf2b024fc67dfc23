import { parseColumnMapping } from '../../../src/commands/uploadBatch/columnNames';
import { resolveHeader } from '../../../src/commands/uploadBatch/csvHeader';
import { chooseDelimiter } from '../../../src/commands/uploadBatch/csvDelimiter';
import { readTimestamp, TimeZone } from '../../../src/commands/uploadBatch/parseTimestamp';
import { timestampFormatNamed } from '../../../src/commands/uploadBatch/timestampFormat';
import { ProblemTally } from '../../../src/commands/uploadBatch/problemSummary';
import { shapeOf } from '../../../src/commands/uploadBatch/eventShapes';

const zone = (name: string): TimeZone => {
  const found = TimeZone.named(name);
  if (found === undefined) throw new Error(`no zone ${name}`);
  return found;
};
const berlin = zone('Europe/Berlin');

describe('ambiguous: the repeated hour of a daylight saving time change', () => {
  // 2024-10-27 in Berlin: 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET).
  it('takes the earlier or the later instant as asked, and refuses without a choice', () => {
    expect(readTimestamp('2024-10-27 02:30:00', berlin, 'earlier')).toEqual({
      ok: true,
      millis: Date.UTC(2024, 9, 27, 0, 30),
    });
    expect(readTimestamp('2024-10-27 02:30:00', berlin, 'later')).toEqual({
      ok: true,
      millis: Date.UTC(2024, 9, 27, 1, 30),
    });
    expect(readTimestamp('2024-10-27 02:30:00', berlin)).toMatchObject({ ok: false, kind: 'overlap' });
  });

  it('keeps the skipped hour an error whatever the choice', () => {
    expect(readTimestamp('2024-03-31 02:30:00', berlin, 'earlier')).toMatchObject({ ok: false, kind: 'gap' });
    expect(readTimestamp('2024-03-31 02:30:00', berlin, 'later')).toMatchObject({ ok: false, kind: 'gap' });
  });
});

describe('timestampFormat', () => {
  const read = (format: string, text: string, name = 'Europe/Berlin') => {
    const declared = timestampFormatNamed(format);
    if (declared === undefined) throw new Error(`not a format: ${format}`);
    return declared.read(text, zone(name), undefined);
  };

  it.each([
    ['DD.MM.YYYY HH:mm', '02.02.2024 13:54', Date.UTC(2024, 1, 2, 12, 54)],
    ['DD.MM.YYYY HH:mm:ss', '2.2.2024 13:54:07', Date.UTC(2024, 1, 2, 12, 54, 7)],
    ['DD/MM/YYYY HH:mm', '15/01/2024 10:00', Date.UTC(2024, 0, 15, 9)],
    ['MM/DD/YYYY HH:mm', '01/15/2024 10:00', Date.UTC(2024, 0, 15, 9)],
    ['DD/MM/YYYY', '15/01/2024', Date.UTC(2024, 0, 14, 23)],
    ['YYYY-MM-DD', '2024-07-15', Date.UTC(2024, 6, 14, 22)],
    ['YYYY-MM-DDTHH:mm', '2024-07-15T10:00', Date.UTC(2024, 6, 15, 8)],
  ])('%s reads %s in the zone', (format, text, expected) => {
    expect(read(format, text)).toEqual({ ok: true, millis: expected });
  });

  it('tells day-first from month-first only by the declaration', () => {
    expect(read('DD.MM.YYYY', '02.03.2024', 'UTC')).toEqual({ ok: true, millis: Date.UTC(2024, 2, 2) });
    expect(read('MM/DD/YYYY', '02/03/2024', 'UTC')).toEqual({ ok: true, millis: Date.UTC(2024, 1, 3) });
  });

  it('refuses values in another form, impossible dates and unknown formats', () => {
    expect(read('DD.MM.YYYY HH:mm', '2024-02-02T13:54:00Z')).toMatchObject({
      ok: false,
      message: 'does not match timestampFormat DD.MM.YYYY HH:mm',
    });
    expect(read('DD/MM/YYYY', '31/02/2024')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/calendar/) as string,
    });
    expect(read('DD/MM/YYYY', '15/01/2024 10:00')).toMatchObject({ ok: false });
    for (const unknown of ['YYYY/MM/DD', 'DD.MM.YY', 'HH:mm', 'dd.mm.yyyy', 'epoch_ms']) {
      expect(timestampFormatNamed(unknown)).toBeUndefined();
    }
  });

  it('reads microsecond epochs without a zone, dropping sub-milliseconds', () => {
    const micros = timestampFormatNamed('epoch_us');
    expect(micros?.zoneless).toBe(false);
    expect(micros?.read('1705312800123456', undefined, undefined)).toEqual({
      ok: true,
      millis: Date.UTC(2024, 0, 15, 10, 0, 0, 123),
    });
    expect(micros?.read('1705312800.5', undefined, undefined)).toMatchObject({ ok: false });
  });
});

describe('column names of real exports', () => {
  it.each([
    [
      ['user_id', 'event_type', 'event_time', 'event_properties'],
      [0, 1, 2, 3],
    ],
    [
      ['EVENT', 'Distinct_Id', 'time', 'properties'],
      [1, 0, 2, 3],
    ],
    [
      ['event_name', 'userId', 'timestamp'],
      [1, 0, 2, undefined],
    ],
  ])('reads the aliases of %j', (names, [userId, eventType, timestamp, metadata]) => {
    expect(resolveHeader(names)).toMatchObject({ userId, eventType, timestamp, metadata, extra: [] });
  });

  it('keeps insert_id as an extra column (metadata), not as a key', () => {
    const columns = resolveHeader(['user_id', 'event_type', 'time', 'insert_id']);
    expect(columns.extra).toEqual([{ index: 3, name: 'insert_id' }]);
  });

  it('maps columns by the columns option, leaving the other columns as metadata', () => {
    const mapping = parseColumnMapping('userId:candidate_id, eventType:Action');
    const columns = resolveHeader(['candidate_id', 'action', 'timestamp', 'event'], undefined, mapping);
    expect(columns).toMatchObject({
      userId: 0,
      eventType: 1,
      timestamp: 2,
      extra: [{ index: 3, name: 'event' }],
    });
    expect(chooseDelimiter('candidate_id;action;timestamp', mapping)).toEqual({
      delimiter: ';',
      matched: true,
    });
  });

  it('names the aliases and the option when nothing matches, and refuses two candidates', () => {
    expect(() => resolveHeader(['candidate_id', 'action', 'timestamp'])).toThrow(
      /Missing required columns: userId, eventType \(the header line must name userId \(or user_id, distinct_id\).*columns=userId:candidate_id,eventType:action/,
    );
    expect(() => resolveHeader(['user_id', 'event', 'event_type', 'time'])).toThrow(
      /"event" and "event_type", which could each be eventType: name the one meant with the columns option/,
    );
    expect(() => resolveHeader(['a', 'b', 'c'], undefined, parseColumnMapping('userId:x'))).toThrow(
      /maps userId to "x", but the header has no such column/,
    );
    expect(() => parseColumnMapping('user:x')).toThrow(/must be field:column pairs/);
    expect(() => parseColumnMapping('userId:x,eventType:x')).toThrow(/two fields to the column "x"/);
  });
});

describe('problem summary', () => {
  it('says a systematic mistake once, with its count, first rows and what helps', () => {
    const tally = new ProblemTally();
    for (let row = 2; row <= 3001; row++) {
      tally.add({ row, field: 'timestamp', message: `timestamp has no zone (${row})`, kind: 'noZone' });
    }
    tally.add({ row: 7, field: 'userId', message: 'userId is required' });
    expect(tally.summary(3000)).toEqual([
      {
        field: 'timestamp',
        count: 3000,
        rows: [2, 3, 4, 5, 6],
        message: expect.stringMatching(
          /^all 3,000 timestamps have no zone: name it with the timezone option/,
        ) as string,
      },
      { field: 'userId', count: 1, rows: [7], message: '1 row: userId is required' },
    ]);
  });
});

describe('event shapes', () => {
  it('reads Mixpanel properties into metadata without their $, and reports two keys that become one', () => {
    const shaped = shapeOf(
      { event: 'Signed Up', properties: { time: 1705312800, distinct_id: 'u1', $os: 'Linux', os: 'linux' } },
      {},
    );
    expect(shaped).toMatchObject({
      userId: 'u1',
      eventType: 'Signed Up',
      timestamp: 1705312800,
      metadata: { os: 'Linux' },
      clashes: ['os'],
      unknown: [],
    });
  });

  it('reads Amplitude keys, the others into metadata, and our shape under mapped keys', () => {
    expect(
      shapeOf({ user_id: 'a', event_type: 'Play', time: 1, event_properties: { x: 1 }, insert_id: 'i' }, {}),
    ).toMatchObject({ userId: 'a', eventType: 'Play', metadata: { x: 1, insert_id: 'i' }, unknown: [] });
    expect(
      shapeOf(
        { Candidate: 'c', action: 'a', timestamp: 1, other: 2 },
        { userId: 'candidate', eventType: 'action' },
      ),
    ).toMatchObject({ userId: 'c', eventType: 'a', unknown: ['other'] });
  });
});
