import { parseTimestamp, readTimestamp, TimeZone } from '../../../src/commands/uploadBatch/parseTimestamp';
import { parseMetadata } from '../../../src/commands/uploadBatch/metadata';
import { eventKey } from '../../../src/events/rawEvents';

describe('timestamp rule', () => {
  it.each([
    ['2024-01-15T10:00:00Z', Date.UTC(2024, 0, 15, 10)],
    ['2024-01-15T12:00:00+02:00', Date.UTC(2024, 0, 15, 10)],
    ['2024-01-15T04:30-05:30', Date.UTC(2024, 0, 15, 10)],
    ['2024-02-29T23:59:59.999Z', Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
    ['2024-01-15T10:00:00.1234567Z', Date.UTC(2024, 0, 15, 10, 0, 0, 123)],
    ['0050-01-01T00:00:00Z', -60589296000000],
    ['2024-01-15 10:00:00Z', Date.UTC(2024, 0, 15, 10)],
    ['1705312800', Date.UTC(2024, 0, 15, 10)],
    ['1705312800.5', Date.UTC(2024, 0, 15, 10, 0, 0, 500)],
    ['1705312800000', Date.UTC(2024, 0, 15, 10)],
  ])('reads %s', (text, expected) => {
    expect(parseTimestamp(text)).toBe(expected);
  });

  it.each([
    '2024-01-15',
    '2024-01-15T10:00:00',
    '2024-02-30T10:00:00Z',
    '2023-02-29T10:00:00Z',
    '2024-13-01T10:00:00Z',
    '2024-01-15T24:00:00Z',
    '2024-01-15T10:60:00Z',
    '2024-01-15T10:00:60Z',
    '2024-01-15T10:00:00+0200',
    '2024-01-15T10:00:00+24:00',
    '170531280000',
    '20240115',
    'Mon, 15 Jan 2024 10:00:00 GMT',
    '',
  ])('rejects %j', (text) => {
    expect(parseTimestamp(text)).toBeUndefined();
  });
});

describe('zone-less date-times in a named zone', () => {
  const berlin = TimeZone.named('Europe/Berlin');
  const read = (text: string) => (berlin === undefined ? undefined : readTimestamp(text, berlin));

  it('reads them in the zone, on either side of a change', () => {
    expect(read('2024-03-31 01:59:59')).toEqual({ ok: true, millis: Date.UTC(2024, 2, 31, 0, 59, 59) });
    expect(read('2024-03-31 03:00:00')).toEqual({ ok: true, millis: Date.UTC(2024, 2, 31, 1) });
    expect(read('2024-10-27T03:00')).toEqual({ ok: true, millis: Date.UTC(2024, 9, 27, 2) });
    expect(readTimestamp('2024-01-15 10:00:00', TimeZone.named('Asia/Kolkata'))).toEqual({
      ok: true,
      millis: Date.UTC(2024, 0, 15, 4, 30),
    });
  });

  it('refuses the gap and the overlap, and zone-less values without a zone', () => {
    expect(read('2024-03-31 02:00:00')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/gap/) as string,
    });
    expect(read('2024-10-27 02:59:59')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/overlap.*\+02:00 for the first or \+01:00 for the second/) as string,
    });
    expect(readTimestamp('2024-01-15 10:00:00')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/upload option timezone/) as string,
    });
    expect(TimeZone.named('Not/AZone')).toBeUndefined();
  });
});

describe('metadata rule', () => {
  it('accepts objects with safe keys and empty cells', () => {
    expect(parseMetadata('{"a":{"b":[1,{"c":2}]}}')).toEqual({
      ok: true,
      value: { a: { b: [1, { c: 2 }] } },
    });
    expect(parseMetadata('  ')).toEqual({ ok: true, value: {} });
  });

  it.each([
    '[1]',
    '1',
    'null',
    '"x"',
    '{bad json',
    '{"$gt":1}',
    '{"a":{"b.c":1}}',
    '{"a":[{"$x":1}]}',
    '{"constructor":1}',
    '{"__proto__":{"polluted":1}}',
    '{"a":[[1]]}',
    '{"a":{"b":["x",[]]}}',
    '{"a":"x\\u0000y"}',
    '{"a":["\\u0000"]}',
    '{"a\\u0000b":1}',
    '{"a":"\ufffd"}',
  ])('rejects %s', (text) => {
    expect(parseMetadata(text).ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('event key', () => {
  it('is a SHA-256 hex over an unambiguous encoding', () => {
    expect(eventKey('a:b', 'c', 1)).toMatch(/^[0-9a-f]{64}$/);
    expect(eventKey('a:b', 'c', 1)).not.toBe(eventKey('a', 'b:c', 1));
    expect(eventKey('a', 'b', 1)).toBe(eventKey('a', 'b', 1));
  });
});
