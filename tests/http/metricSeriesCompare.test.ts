import fc from 'fast-check';
import { rawGet } from '../support/rawGet';
import { projectionsCaughtUp } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { batchStatusOf, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

jest.setTimeout(300_000);

/**
 * compare=previous and `partial` through HTTP against the real stack, checked against an
 * independent recount of the uploaded rows: each row is put in its local date by Intl, the previous
 * period is worked out here from the rule the API documents, and a bucket is partial when one of
 * its days lies outside the range.
 */

type Row = { userId: string; eventType: string; millis: number };
type Metrics = { eventType: string; count: number; uniqueUsers: number };
type Bucket = { date: string; metrics: Metrics[]; partial?: true };
type Change = { eventType: string; count: number; previousCount: number; percentChange: number | null };
interface Answer {
  from: string;
  to: string;
  series: Bucket[];
  totals: Metrics[];
  previous?: { from: string; to: string; series: Bucket[]; totals: Metrics[]; change: Change[] };
}

const ZONES = ['UTC', 'Asia/Kathmandu', 'Europe/Berlin', 'America/New_York', 'Pacific/Chatham'];
const DAY = 86_400_000;
const START = Date.UTC(2023, 9, 1);
/** Distinct events (the service stores a repeated one once) over six months from October 2023, from a fixed seed. */
const ROWS: Row[] = fc
  .sample(
    fc.record({
      userId: fc.constantFrom('u1', 'u2', 'u3', 'u4', 'u5'),
      eventType: fc.constantFrom('click', 'view', 'buy'),
      millis: fc.integer({ min: 0, max: 182 * 96 }).map((q) => START + q * 900_000),
    }),
    { numRuns: 600, seed: 26 },
  )
  .filter((row, i, all) => all.findIndex((r) => JSON.stringify(r) === JSON.stringify(row)) === i);

const addDays = (date: string, days: number): string =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
const localDate = (tz: string, millis: number): string =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(millis);
const monthEnd = (date: string): string =>
  addDays(`${addDays(`${date.slice(0, 7)}-01`, 32).slice(0, 7)}-01`, -1);

/** The recounted totals of [from, to] in tz. */
function recount(tz: string, from: string, to: string): Metrics[] {
  const byType = new Map<string, { count: number; users: Set<string> }>();
  for (const row of ROWS) {
    const date = localDate(tz, row.millis);
    if (date < from || date > to) continue;
    const entry = byType.get(row.eventType) ?? { count: 0, users: new Set<string>() };
    byType.set(row.eventType, entry);
    entry.count += 1;
    entry.users.add(row.userId);
  }
  return [...byType]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([eventType, e]) => ({ eventType, count: e.count, uniqueUsers: e.users.size }));
}

function partialExpected(interval: string, date: string, from: string, to: string): boolean {
  if (interval === 'day') return false;
  const last = interval === 'week' ? addDays(date, 6) : monthEnd(date);
  return date < from || last > to;
}

describe('GET /api/metrics/series?compare=previous', () => {
  let service: TestService;
  const series = async (query: string): Promise<{ status: number; body: Answer }> => {
    const res = await fetch(`${service.baseUrl}/api/metrics/series?${query}`);
    return { status: res.status, body: (await res.json()) as Answer };
  };

  beforeAll(async () => {
    service = await startTestService({ env: { PROJECTION_POLL_MS: '300' } });
    const csv = [
      'userId,eventType,timestamp',
      ...ROWS.map((r) => `${r.userId},${r.eventType},${new Date(r.millis).toISOString()}`),
    ];
    const upload = await uploadCsv(service.baseUrl, csv.join('\n'));
    expect(upload.status).toBe(201);
    const batchId = upload.body.batchId as string;
    expect(
      (await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' })).status,
    ).toBe(202);
    await waitFor(
      () => batchStatusOf(service.baseUrl, batchId),
      (s) => s === 'completed',
      120_000,
      'batch completed',
    );
    await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
  });
  afterAll(async () => {
    await service.stop();
  });

  it('moves 10 days from a Wednesday back two whole weeks, and gives the change per type', async () => {
    const { status, body } = await series('from=2024-01-10&to=2024-01-19&compare=previous');
    expect(status).toBe(200);
    expect(body.previous?.from).toBe('2023-12-27');
    expect(body.previous?.to).toBe('2024-01-05');
    expect(body.previous?.series.map((b) => b.date)).toEqual(
      Array.from({ length: 10 }, (_, i) => addDays('2023-12-27', i)),
    );
    expect(body.previous?.totals).toEqual(recount('UTC', '2023-12-27', '2024-01-05'));
    const click = body.previous?.change.find((c) => c.eventType === 'click');
    const now = recount('UTC', '2024-01-10', '2024-01-19').find((m) => m.eventType === 'click')?.count ?? 0;
    const before =
      recount('UTC', '2023-12-27', '2024-01-05').find((m) => m.eventType === 'click')?.count ?? 0;
    expect(click).toEqual({
      eventType: 'click',
      count: now,
      previousCount: before,
      percentChange: Math.round(((now - before) / before) * 1000) / 10,
    });
  });

  it('marks weeks and months the range cuts as partial, and only those', async () => {
    const weeks = (await series('from=2024-01-10&to=2024-01-28&interval=week')).body;
    expect(weeks.series.map((b) => [b.date, b.partial ?? false])).toEqual([
      ['2024-01-08', true],
      ['2024-01-15', false],
      ['2024-01-22', false],
    ]);
    const months = (await series('from=2023-11-01&to=2024-01-30&interval=month&compare=previous')).body;
    expect(months.series.map((b) => b.partial ?? false)).toEqual([false, false, true]);
    expect([months.previous?.from, months.previous?.to]).toEqual(['2023-08-01', '2023-10-30']);
    expect(months.previous?.series.map((b) => [b.date, b.partial ?? false])).toEqual([
      ['2023-08-01', false],
      ['2023-09-01', false],
      ['2023-10-01', true],
    ]);
    // Nothing was counted before October: every type is new, so no percentage.
    const first = (await series('from=2023-10-01&to=2023-10-20&interval=month&compare=previous')).body;
    expect(first.previous?.change.length).toBeGreaterThan(0);
    expect(first.previous?.change.every((c) => c.previousCount === 0 && c.percentChange === null)).toBe(true);
    const days = (await series('from=2024-01-10&to=2024-01-12')).body;
    expect(days.series.some((b) => 'partial' in b)).toBe(false);
  });

  it('answers a repeated comparison the same, from the cache, with one ETag', async () => {
    const url = `${service.baseUrl}/api/metrics/series?from=2024-01-03&to=2024-01-09&compare=previous&tz=Asia/Kathmandu`;
    // Over node:http: fetch would add Cache-Control: no-cache to a request carrying a validator.
    const first = await rawGet(url);
    const second = await rawGet(url);
    expect(first.status).toBe(200);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.body.equals(first.body)).toBe(true);
    const again = await rawGet(url, { 'If-None-Match': String(first.headers.etag) });
    expect(again.status).toBe(304);
  });

  it('refuses an unknown comparison and a CSV one, naming the parameter', async () => {
    for (const query of ['compare=next', 'compare=previous&format=csv']) {
      const res = await fetch(`${service.baseUrl}/api/metrics/series?from=2024-01-10&to=2024-01-12&${query}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { details: { parameter: string } }).details.parameter).toBe('compare');
    }
  });

  it('equals a recount for any zone, interval and range (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.constantFrom('day', 'week', 'month'),
        fc.integer({ min: 0, max: 150 }),
        fc.integer({ min: 1, max: 60 }),
        async (tz, interval, offset, days) => {
          const from = addDays('2023-10-01', offset);
          const to = addDays(from, days - 1);
          const query = new URLSearchParams({ from, to, tz, interval, compare: 'previous' });
          const { status, body } = await series(query.toString());
          expect(status).toBe(200);
          const previous = body.previous;
          if (previous === undefined) throw new Error('no previous period');
          if (interval === 'month') {
            const months = (d: string) => Number(d.slice(0, 4)) * 12 + Number(d.slice(5, 7));
            expect(months(from) - months(previous.from)).toBe(months(to) - months(from) + 1);
          } else {
            const shift = (Date.parse(from) - Date.parse(previous.from)) / DAY;
            expect(shift % 7).toBe(0);
            expect(previous.to < from && addDays(previous.to, 7) >= from).toBe(true);
            expect(addDays(previous.to, shift)).toBe(to);
          }
          expect(previous.series).toHaveLength(body.series.length);
          expect(body.totals).toEqual(recount(tz, from, to));
          expect(previous.totals).toEqual(recount(tz, previous.from, previous.to));
          for (const [answer, a, b] of [
            [body, from, to],
            [previous, previous.from, previous.to],
          ] as const) {
            for (const bucket of answer.series)
              expect([bucket.date, bucket.partial ?? false]).toEqual([
                bucket.date,
                partialExpected(interval, bucket.date, a, b),
              ]);
          }
          const types = new Set([...body.totals, ...previous.totals].map((m) => m.eventType));
          expect(previous.change.map((c) => c.eventType)).toEqual([...types].sort());
          for (const c of previous.change) {
            const now = body.totals.find((m) => m.eventType === c.eventType)?.count ?? 0;
            const before = previous.totals.find((m) => m.eventType === c.eventType)?.count ?? 0;
            const percent = before === 0 ? null : Math.round(((now - before) / before) * 1000) / 10;
            expect(c).toEqual({
              eventType: c.eventType,
              count: now,
              previousCount: before,
              percentChange: percent,
            });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
