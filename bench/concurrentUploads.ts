import { setTimeout as sleep } from 'node:timers/promises';
import { csvFile, recount, rowsOf, type CsvFile } from '../chaos/workload';

/**
 * `npm run bench -- --overlapping` (issue 23): one file of 10 MiB uploaded alone, then five files of
 * the same size at once, each sharing half its rows with the next (more than the four default upload
 * slots: the fifth waits for one). Every batch is then processed and the metrics compared with a
 * recount of the distinct rows, so the rates are of uploads that stored exactly.
 */

const FILES = 5;
const MIB = 10;

export interface OverlappingUploads {
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

export async function measureOverlappingUploads(
  baseUrl: string,
  say: (message: string) => void,
): Promise<OverlappingUploads> {
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
  };
}

export function printOverlappingUploads(r: OverlappingUploads): void {
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
  ];
  const width = Math.max(...rows.map(([a]) => a.length));
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(width)}  ${b}  ${c}\n`);
}
