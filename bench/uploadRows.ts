import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from 'mongodb';
import { csvFile, recount, rowsOf, type CsvFile } from '../chaos/workload';

/**
 * `npm run bench -- --uploads` (issue 23's upload rows): one file of 10 MiB uploaded alone, then
 * five files of the same size at once, each sharing half its rows with the next (more than the four
 * default upload slots: the fifth waits for one); every batch is then processed and the metrics
 * compared with a recount of the distinct rows, so the rates are of uploads that stored exactly.
 * Then a clean upload of another such file, and one more killed (the API process, SIGKILL) half way
 * through a clean upload's time and sent again once the API is back.
 */

const FILES = 5;
const MIB = 10;

export interface UploadRows {
  rowsPerFile: number;
  /** The file alone (its rows share nothing with the five). */
  aloneSeconds: number;
  aloneRowsPerSecond: number;
  /** The five at once, until the last answered. */
  concurrentSeconds: number;
  concurrentRowsPerSecond: number;
  /** Every answer of the five uploads by status (a 503 is retried after its Retry-After). */
  statuses: Record<string, number>;
  answeredAfterSeconds: number[];
  distinctEvents: number;
  storedAsNew: number;
  /** A fresh file of the same size, uploaded alone on a freshly started API just before the one killed. */
  cleanSeconds: number;
  /** The killed file sent again: from its first request to its 201 (503s retried). */
  reuploadSeconds: number;
  /** What the killed upload had made final (its claim `inserted`), and the re-upload stored new. */
  killedStored: number;
  reuploadStored: number;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

async function post(baseUrl: string, path: string, file?: CsvFile): Promise<Reply> {
  const started = Date.now();
  let body: FormData | undefined;
  if (file !== undefined) {
    body = new FormData();
    body.append('file', new Blob([file.text], { type: 'text/csv' }), file.name);
  }
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    body,
    signal: AbortSignal.timeout(1_800_000),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    ms: Date.now() - started,
  };
}

async function waitCompleted(baseUrl: string, batchId: string): Promise<void> {
  for (;;) {
    const batch = (await (await fetch(`${baseUrl}/api/batches/${batchId}`)).json()) as { status?: string };
    if (batch.status === 'completed') return;
    if (batch.status === 'failed') throw new Error(`batch ${batchId} failed`);
    await sleep(500);
  }
}

/** Waits until the metrics of every day equal the recount of `files` (projections catch up). */
async function metricsEqualRecount(baseUrl: string, files: readonly CsvFile[]): Promise<number> {
  const expected = recount(files);
  for (const [day, types] of expected) {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const got = (await (await fetch(`${baseUrl}/api/metrics?date=${day}`)).json()) as {
        metrics: { eventType: string; count: number }[];
      };
      const same =
        got.metrics.length === types.size &&
        [...types].every(([t, n]) => got.metrics.find((m) => m.eventType === t)?.count === n);
      if (same) break;
      if (Date.now() > deadline) throw new Error(`metrics of ${day} differ: ${JSON.stringify(got)}`);
      await sleep(500);
    }
  }
  return [...expected.values()].reduce((s, m) => s + [...m.values()].reduce((a, b) => a + b, 0), 0);
}

/** The events a file holds, once each. */
const distinctIn = (file: CsvFile): number =>
  [...recount([file]).values()].reduce((s, m) => s + [...m.values()].reduce((a, b) => a + b, 0), 0);

/** Posts `file` until it is stored (503 retried after its Retry-After); the seconds that took. */
async function uploadUntilStored(baseUrl: string, file: CsvFile): Promise<[Reply, number]> {
  const started = Date.now();
  for (;;) {
    const reply = await post(baseUrl, '/api/uploads', file);
    if (reply.status === 201) return [reply, (Date.now() - started) / 1000];
    if (reply.status !== 503) throw new Error(`${file.name} answered ${reply.status}`);
    await sleep(Number(reply.body.retryAfter ?? 5) * 1000);
  }
}

/**
 * A clean upload, then another file killed half way through the clean one's time and sent again;
 * checks that what the killed upload made final and what the re-upload stored add up to the file.
 * Both uploads are the first of a freshly started API (the clean one after a restart with nothing in
 * flight), so the ratio is what the kill left behind costs, not a process warming up.
 */
async function measureReupload(
  baseUrl: string,
  db: Db,
  rowsPerFile: number,
  killApi: () => Promise<void>,
  say: (message: string) => void,
): Promise<Pick<UploadRows, 'cleanSeconds' | 'reuploadSeconds' | 'killedStored' | 'reuploadStored'>> {
  const clean = csvFile('clean.csv', rowsOf(200_000_000, rowsPerFile, 5));
  const killed = csvFile('killed.csv', rowsOf(300_000_000, rowsPerFile, 6));
  say('a clean upload, then one with the API killed half way and sent again, each on a fresh API...');
  await killApi();
  const [, cleanSeconds] = await uploadUntilStored(baseUrl, clean);
  const first = post(baseUrl, '/api/uploads', killed).catch(() => undefined);
  await sleep((cleanSeconds * 1000) / 2);
  await killApi();
  if ((await first)?.status === 201) throw new Error('the upload answered before the API was killed');
  const [reply, reuploadSeconds] = await uploadUntilStored(baseUrl, killed);
  const reuploadStored = Number(reply.body.totalEvents);
  const distinct = distinctIn(killed);
  // A killed upload whose events were final gets its BatchUploaded from the claim sweep.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const earlier = await db
      .collection<{ data: { batchId: string; newEvents: number } }>('event_log')
      .find({
        type: 'BatchUploaded',
        'data.fileName': killed.name,
        'data.batchId': { $ne: reply.body.batchId },
      })
      .toArray();
    const killedStored = earlier.reduce((n, r) => n + r.data.newEvents, 0);
    if (killedStored + reuploadStored === distinct) {
      return { cleanSeconds, reuploadSeconds, killedStored, reuploadStored };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `killed ${killedStored} + re-upload ${reuploadStored} events, the file holds ${distinct}`,
      );
    }
    await sleep(500);
  }
}

export async function measureUploadRows(
  baseUrl: string,
  db: Db,
  killApi: () => Promise<void>,
  say: (message: string) => void,
): Promise<UploadRows> {
  // About 62 bytes a row.
  const rowsPerFile = Math.floor((MIB * 1024 * 1024) / 62);
  const files = Array.from({ length: FILES }, (_, i) =>
    csvFile(`overlapping-${i}.csv`, rowsOf(i * Math.floor(rowsPerFile / 2), rowsPerFile, 7 + i)),
  );
  const aloneFile = csvFile('alone.csv', rowsOf(100_000_000, rowsPerFile, 3));

  say(`one file of ${rowsPerFile} rows alone...`);
  const alone = await post(baseUrl, '/api/uploads', aloneFile);
  if (alone.status !== 201) throw new Error(`the upload alone answered ${alone.status}`);

  say(`${FILES} overlapping files of ${rowsPerFile} rows at once...`);
  const statuses: Record<string, number> = {};
  const started = Date.now();
  const answeredAfterSeconds: number[] = [];
  const replies = await Promise.all(
    files.map(async (file) => {
      for (;;) {
        const reply = await post(baseUrl, '/api/uploads', file);
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
        if (reply.status === 201) {
          answeredAfterSeconds.push((Date.now() - started) / 1000);
          return reply;
        }
        if (reply.status !== 503) throw new Error(`${file.name} answered ${reply.status}`);
        await sleep(Number(reply.body.retryAfter ?? 5) * 1000);
      }
    }),
  );
  const concurrentSeconds = (Date.now() - started) / 1000;

  say('processing every batch and comparing the metrics with a recount...');
  const all = [alone, ...replies];
  const ids = all.map((r) => String(r.body.batchId));
  for (const id of ids) {
    const reply = await post(baseUrl, `/api/batches/${id}/process`);
    if (reply.status !== 202 && reply.status !== 200) throw new Error(`process ${id}: ${reply.status}`);
  }
  for (const id of ids) await waitCompleted(baseUrl, id);
  const distinctEvents = await metricsEqualRecount(baseUrl, [aloneFile, ...files]);
  const storedAsNew = all.reduce((s, r) => s + Number(r.body.totalEvents ?? 0), 0);
  if (storedAsNew !== distinctEvents) {
    throw new Error(`the 201s count ${storedAsNew} new events, the recount ${distinctEvents}`);
  }
  const reupload = await measureReupload(baseUrl, db, rowsPerFile, killApi, say);
  return {
    rowsPerFile,
    aloneSeconds: alone.ms / 1000,
    aloneRowsPerSecond: rowsPerFile / (alone.ms / 1000),
    concurrentSeconds,
    concurrentRowsPerSecond: (FILES * rowsPerFile) / concurrentSeconds,
    statuses,
    answeredAfterSeconds: answeredAfterSeconds.sort((a, b) => a - b),
    distinctEvents,
    storedAsNew,
    ...reupload,
  };
}

export function printUploadRows(r: UploadRows): void {
  const f = (n: number, digits = 0): string => n.toFixed(digits);
  const rows: [string, string, string][] = [
    ['one file alone', `${f(r.aloneRowsPerSecond)} rows/s (${f(r.aloneSeconds, 1)} s)`, ''],
    [
      `${FILES} overlapping files at once`,
      `${f(r.concurrentRowsPerSecond)} rows/s (${f(r.concurrentRowsPerSecond / r.aloneRowsPerSecond, 2)} x alone)`,
      'target >= 0.9 x alone',
    ],
    ['  answers by status', JSON.stringify(r.statuses), 'target: no 503'],
    ['  201s after (s)', r.answeredAfterSeconds.map((s) => f(s, 1)).join(', '), ''],
    ['  distinct events = stored as new', `${r.distinctEvents} = ${r.storedAsNew}`, 'metrics = recount'],
    [
      're-upload after the API was killed',
      `${f(r.reuploadSeconds, 1)} s (${f(r.reuploadSeconds / r.cleanSeconds, 2)} x a clean upload, ${f(r.cleanSeconds, 1)} s)`,
      'target <= 1.2 x',
    ],
    [
      '  stored by the killed upload + the re-upload',
      `${r.killedStored} + ${r.reuploadStored} = the file's distinct events`,
      '',
    ],
  ];
  const width = Math.max(...rows.map(([a]) => a.length));
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(width)}  ${b}  ${c}\n`);
}
