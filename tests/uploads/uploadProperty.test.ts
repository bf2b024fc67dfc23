import fc from 'fast-check';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';

/** For arbitrary rows written as CSV, the upload stores exactly the distinct events a recount finds. */
describe('uploading arbitrary rows (property)', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
  });
  afterAll(async () => {
    await service.stop();
  });

  const pieces = [
    'a',
    'Z',
    '7',
    ' ',
    '"',
    ',',
    '\n',
    '\r\n',
    ':',
    '$',
    '.',
    'é',
    '日本',
    '😀',
    '\\',
    "'",
    '{}',
    'ß',
  ];
  const textOf = (from: string[]) =>
    fc
      .array(fc.constantFrom(...from), { minLength: 1, maxLength: 12 })
      .map((parts) => parts.join(''))
      .filter((s) => s.trim() !== '');
  // Line breaks are control characters, refused in identifiers; a free-text column still holds them.
  const text = textOf(pieces.filter((p) => !p.includes('\n')));
  const note = textOf(pieces);
  const offsetMinutes = fc.integer({ min: -48, max: 56 }).map((q) => q * 15);
  const instant = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2060, 0, 1) });

  /** The same instant written at a given UTC offset, with or without milliseconds. */
  function iso(utcMs: number, offset: number): string {
    const local = new Date(utcMs + offset * 60_000).toISOString().slice(0, 23);
    const zone =
      offset === 0
        ? 'Z'
        : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
    return `${utcMs % 1000 === 0 ? local.slice(0, 19) : local}${zone}`;
  }

  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;

  const event = fc.record({ userId: text, eventType: text, at: instant });
  const row = fc.record({ event: fc.nat(), offset: offsetMinutes, note });
  const scenario = fc.array(event, { minLength: 1, maxLength: 12 }).chain((events) =>
    fc.record({
      events: fc.constant(events),
      rows: fc.array(row, { minLength: 1, maxLength: 30 }),
      crlf: fc.boolean(),
    }),
  );

  it('stores each distinct (userId, eventType, instant) once', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ events, rows, crlf }) => {
        await rawEvents(service.runtime.mongo.db).deleteMany({});
        const chosen = rows.flatMap((r) => {
          const e = events[r.event % events.length];
          return e === undefined ? [] : [{ e, offset: r.offset, note: r.note }];
        });
        const newline = crlf ? '\r\n' : '\n';
        const csv =
          [
            'timestamp,userId,eventType,note',
            ...chosen.map(({ e, offset, note: n }) =>
              [iso(e.at, offset), quote(e.userId), quote(e.eventType), quote(n)].join(','),
            ),
          ].join(newline) + newline;

        const expected = new Set(
          chosen.map(({ e }) => JSON.stringify([e.userId.trim(), e.eventType.trim(), e.at])),
        );
        const { status, body } = await uploadCsv(service.baseUrl, csv);
        expect(status).toBe(201);
        expect(body.totalEvents).toBe(expected.size);
        expect(body.duplicates).toBe(chosen.length - expected.size);

        const stored = await rawEvents(service.runtime.mongo.db).find({}).toArray();
        const recount = new Set(
          stored.map((d) => JSON.stringify([d.userId, d.eventType, d.timestamp.getTime()])),
        );
        expect(stored).toHaveLength(expected.size);
        expect(recount).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });
});
