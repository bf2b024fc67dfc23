/**
 * One-off acceptance check, not a test: against a running service (BASE_URL, default
 * http://localhost:3000, e.g. `npm start`), posts FILES (default 5) overlapping CSV files of
 * UPLOAD_MIB (default 10) MiB at once, then a one-row upload, then processes every batch and
 * compares the metrics with a recount of the distinct rows. Prints every answer and the timings.
 *
 *   npx tsc -p tsconfig.bench.json && node artifacts/bench-build/bench/concurrentUploads.js
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { csvFile, recount, rowsOf, type CsvFile } from '../chaos/workload';

const BASE_URL = process.env.BASE_URL ?? 'http://localhost:3000';
const FILES = Number(process.env.FILES ?? 5);
const MIB = Number(process.env.UPLOAD_MIB ?? 10);

async function post(
  path: string,
  body?: FormData,
): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${BASE_URL}${path}`, {
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

function form(file: CsvFile): FormData {
  const data = new FormData();
  data.append('file', new Blob([file.text], { type: 'text/csv' }), file.name);
  return data;
}

async function main(): Promise<void> {
  // About 60 bytes a row: rows per file for the size asked, each file sharing half its rows with the next.
  const rows = Math.floor((MIB * 1024 * 1024) / 62);
  const files = Array.from({ length: FILES }, (_, i) =>
    csvFile(`big-${i}.csv`, rowsOf(i * Math.floor(rows / 2), rows, 7 + i)),
  );
  process.stderr.write(
    `${FILES} files of ${rows} rows (${(files[0]?.text.length ?? 0) / 1024 / 1024} MiB each)\n`,
  );
  const started = Date.now();
  const replies = await Promise.all(
    files.map(async (f) => {
      for (;;) {
        const reply = await post('/api/uploads', form(f));
        process.stdout.write(
          `${f.name}: ${reply.status} after ${(reply.ms / 1000).toFixed(1)} s ${JSON.stringify(reply.body)}\n`,
        );
        if (reply.status !== 503) return reply;
        await sleep(Number(reply.body.retryAfter ?? 5) * 1000);
      }
    }),
  );
  process.stdout.write(`all answered after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const one = await post('/api/uploads', form(csvFile('one.csv', rowsOf(10_000_000, 1, 1))));
  process.stdout.write(`one-row upload: ${one.status} in ${(one.ms / 1000).toFixed(2)} s\n`);

  const all = [...replies, one];
  for (const r of all) if (r.status === 201) await post(`/api/batches/${String(r.body.batchId)}/process`);
  for (const r of all) {
    if (r.status !== 201) continue;
    for (;;) {
      const b = (await (await fetch(`${BASE_URL}/api/batches/${String(r.body.batchId)}`)).json()) as Record<
        string,
        unknown
      >;
      if (b.status === 'completed') break;
      if (b.status === 'failed') await post(`/api/batches/${String(r.body.batchId)}/process`);
      await sleep(500);
    }
  }
  const expected = recount([...files, csvFile('one.csv', rowsOf(10_000_000, 1, 1))]);
  let wrong = 0;
  for (const [day, types] of expected) {
    for (;;) {
      const got = (await (await fetch(`${BASE_URL}/api/metrics?date=${day}`)).json()) as {
        metrics: { eventType: string; count: number }[];
      };
      const same = [...types].every(([t, n]) => got.metrics.find((m) => m.eventType === t)?.count === n);
      if (same) break;
      if (++wrong > 600) throw new Error(`metrics of ${day} differ: ${JSON.stringify(got)}`);
      await sleep(500);
    }
  }
  const total = [...expected.values()].reduce((s, m) => s + [...m.values()].reduce((a, b) => a + b, 0), 0);
  const stored = all.reduce(
    (s, r) => s + (typeof r.body.totalEvents === 'number' ? r.body.totalEvents : 0),
    0,
  );
  process.stdout.write(
    `distinct events ${total}, stored as new ${stored}, metrics of ${expected.size} days equal the recount\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
