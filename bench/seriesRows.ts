import { existsSync, openAsBlob } from 'node:fs';
import { join } from 'node:path';
import type { Db } from 'mongodb';
import { generateCsv } from './generateCsv';
import { waitForProjections } from './projectionsCaughtUp';
import { startService, waitForHealth, type ServiceProcess } from './processes';

/**
 * `npm run bench -- --series`: only the series rows of issue 25 — a year x 300 types (150,000
 * events, 50,000 users) uploaded, processed until every read model caught up, then cold series
 * (each question asked once, so no answer cache) for the year daily in Asia/Kolkata, for 3 of the
 * 300 types, and by month in UTC; then four cold years at once (the API's peak RSS for them).
 */

export interface SeriesRows {
  rows: number;
  uploadSeconds: number;
  processedAndCaughtUpSeconds: number;
  caughtUpPerUpload: number;
  coldYearKolkataSeconds: number;
  coldThreeTypesSeconds: number;
  coldYearByMonthUtcSeconds: number;
  /** The first question again under the zone's other name: cold too, but after the API warmed up. */
  coldYearCalcuttaSeconds: number;
  apiPeakRssMb: number;
  /** Four cold years asked at once, each in another zone (SERIES_MAX_COLD of them computed at a time). */
  fourColdYearsSeconds: number;
  fourColdYearsApiPeakRssMb: number;
}

const ROWS = 150_000;

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what} answered ${res.status}: ${await res.text()}`);
  return res;
}

export async function measureSeriesRows(ctx: {
  out: string;
  db: Db;
  env: Record<string, string>;
  services: ServiceProcess[];
  say: (message: string) => void;
}): Promise<SeriesRows> {
  const csvPath = join(ctx.out, `events-year-300-types-${ROWS}.csv`);
  if (!existsSync(csvPath)) {
    ctx.say(`generating ${csvPath}...`);
    await generateCsv(csvPath, { rows: ROWS, users: 50_000, eventTypes: 300, days: 366 });
  }
  const api = startService('api', ctx.env);
  const worker = startService('worker', ctx.env);
  ctx.services.push(api, worker);
  const baseUrl = `http://127.0.0.1:${ctx.env.PORT ?? ''}`;
  await waitForHealth(baseUrl);

  ctx.say(`uploading ${ROWS} rows over a year x 300 types...`);
  let batchId = '';
  const uploadSeconds = await seconds(async () => {
    const form = new FormData();
    form.append('file', await openAsBlob(csvPath, { type: 'text/csv' }), 'year.csv');
    const res = await ok(await fetch(`${baseUrl}/api/uploads`, { method: 'POST', body: form }), 'upload');
    batchId = ((await res.json()) as { batchId: string }).batchId;
  });
  ctx.say('processing until every read model caught up...');
  const processedAndCaughtUpSeconds = await seconds(async () => {
    await ok(await fetch(`${baseUrl}/api/batches/${batchId}/process`, { method: 'POST' }), 'process');
    for (;;) {
      const res = await ok(await fetch(`${baseUrl}/api/batches/${batchId}`), 'GET batch');
      const { status } = (await res.json()) as { status: string };
      if (status === 'completed') break;
      if (status === 'failed') throw new Error('the batch failed');
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitForProjections(ctx.db);
  });
  api.resetPeak();
  const cold = (query: string) =>
    seconds(async () => {
      ctx.say(`cold GET /api/metrics/series?${query}`);
      await (await ok(await fetch(`${baseUrl}/api/metrics/series?${query}`), 'series')).arrayBuffer();
    });
  const year = 'from=2024-01-01&to=2024-12-31';
  const coldYearKolkataSeconds = await cold(`${year}&tz=Asia/Kolkata&interval=day`);
  const coldThreeTypesSeconds = await cold(
    `${year}&tz=Asia/Kolkata&interval=day&eventType=click,purchase,event_250`,
  );
  const coldYearByMonthUtcSeconds = await cold(`${year}&tz=UTC&interval=month`);
  const coldYearCalcuttaSeconds = await cold(`${year}&tz=Asia/Calcutta&interval=day`);
  const apiPeakRssMb = Math.round(api.peakRss() / 1024 ** 2);
  api.resetPeak();
  const zones = ['America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney'];
  const fourColdYearsSeconds = await seconds(() =>
    Promise.all(zones.map((zone) => cold(`${year}&tz=${zone}&interval=day`))),
  );
  return {
    rows: ROWS,
    uploadSeconds,
    processedAndCaughtUpSeconds,
    caughtUpPerUpload: processedAndCaughtUpSeconds / uploadSeconds,
    coldYearKolkataSeconds,
    coldThreeTypesSeconds,
    coldYearByMonthUtcSeconds,
    coldYearCalcuttaSeconds,
    apiPeakRssMb,
    fourColdYearsSeconds,
    fourColdYearsApiPeakRssMb: Math.round(api.peakRss() / 1024 ** 2),
  };
}
