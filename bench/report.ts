import type { PostsResult } from './eventPosts';
import type { LoadResult } from './metricsLoad';

export interface BenchResult {
  rows: number;
  newEvents: number;
  duplicates: number;
  uploadSeconds: number;
  uploadRowsPerSecond: number;
  processSeconds: number;
  /** A cold series of the run's data: a year, daily, in Asia/Kolkata. */
  coldYearSeconds: number;
  endToEndSeconds: number;
  floorSeconds: number;
  floorDocuments: number;
  ratio: number;
  apiPeakRssMb: number;
  workerPeakRssMb: number;
  metrics: LoadResult;
  series: LoadResult & { firstAnswerSeconds: number };
  /** The same series load from one client thread: the figure earlier runs of the bench report. */
  seriesOneThread: LoadResult;
  /** The metrics and series loads again, from an API with CACHED_READ_FRONT=false. */
  withoutFront: { metrics: LoadResult; series: LoadResult };
  /** The POST /api/events rows. */
  posts: PostsResult;
  logRecords: number;
  readLogSeconds: number;
  rebuildSeconds: number;
  rebuildOverRead: number;
  /** Starting a process, connecting and reading the log once: the floor of a rebuild run as its own process. */
  readLogProcessSeconds: number;
  backend: 'postgresql';
  settings: { eventsPerChunk: number; workerConcurrency: number };
  machine: { cpus: number; node: string };
  at: string;
}

const f = (n: number, digits = 2): string => n.toFixed(digits);

export function printTable(r: BenchResult): void {
  const rows: [string, string, string][] = [
    [
      'EVENTS_PER_CHUNK / WORKER_CONCURRENCY',
      `${r.settings.eventsPerChunk} / ${r.settings.workerConcurrency}`,
      '',
    ],
    ['rows (new / duplicates)', `${r.rows} (${r.newEvents} / ${r.duplicates})`, ''],
    ['upload', `${f(r.uploadSeconds)} s`, `${f(r.uploadRowsPerSecond, 0)} rows/s`],
    ['processing (until completed + projections caught up)', `${f(r.processSeconds)} s`, ''],
    [
      'processing / upload',
      f(r.processSeconds / r.uploadSeconds),
      r.rows >= 1_000_000 ? 'target <= 0.25 at 1,000,000' : '',
    ],
    [
      'cold series: a year of these events, daily, Asia/Kolkata',
      `${f(r.coldYearSeconds)} s`,
      r.rows >= 1_000_000 ? 'target <= 2 s at 1,000,000' : '',
    ],
    ['end-to-end (upload + processing)', `${f(r.endToEndSeconds)} s`, ''],
    ['floor (insertMany of the same documents)', `${f(r.floorSeconds)} s`, `${r.floorDocuments} docs`],
    ['end-to-end / floor', f(r.ratio), 'target <= 2.0'],
    ['API peak RSS', `${f(r.apiPeakRssMb, 0)} MB`, ''],
    ['worker peak RSS', `${f(r.workerPeakRssMb, 0)} MB`, ''],
    ['GET /api/metrics p50 / p99', `${f(r.metrics.p50Ms)} / ${f(r.metrics.p99Ms)} ms`, 'target p99 <= 20 ms'],
    [
      'GET /api/metrics throughput',
      `${f(r.metrics.requestsPerSecond, 0)} req/s`,
      `${r.metrics.errors + r.metrics.non2xx} errors`,
    ],
    [
      'GET /api/metrics/series (year x 50 types, 2 client threads) p50 / p99',
      `${f(r.series.p50Ms)} / ${f(r.series.p99Ms)} ms`,
      'target p99 <= 50 ms',
    ],
    [
      'GET /api/metrics/series throughput',
      `${f(r.series.requestsPerSecond, 0)} req/s`,
      `${r.series.errors + r.series.non2xx} errors; first answer ${f(r.series.firstAnswerSeconds)} s`,
    ],
    [
      '  the same from one client thread, p50 / p99',
      `${f(r.seriesOneThread.p50Ms)} / ${f(r.seriesOneThread.p99Ms)} ms`,
      `${f(r.seriesOneThread.requestsPerSecond, 0)} req/s (the client is the limit, see README)`,
    ],
    [
      'without the cached-read front: GET /api/metrics p50 / p99',
      `${f(r.withoutFront.metrics.p50Ms)} / ${f(r.withoutFront.metrics.p99Ms)} ms`,
      `${f(r.withoutFront.metrics.requestsPerSecond, 0)} req/s (target p99 <= 20 ms)`,
    ],
    [
      'without the cached-read front: GET /api/metrics/series p50 / p99',
      `${f(r.withoutFront.series.p50Ms)} / ${f(r.withoutFront.series.p99Ms)} ms`,
      `${f(r.withoutFront.series.requestsPerSecond, 0)} req/s (target p99 <= 50 ms)`,
    ],
    ['read the log once', `${f(r.readLogSeconds)} s`, `${r.logRecords} records`],
    ['rebuild-projections', `${f(r.rebuildSeconds)} s`, `${f(r.rebuildOverRead)} x read (target <= 1.5)`],
    [
      'a process that starts, connects and reads the log once',
      `${f(r.readLogProcessSeconds)} s`,
      `${f(r.readLogProcessSeconds / r.readLogSeconds)} x read; the rebuild ${f(r.rebuildSeconds / r.readLogProcessSeconds)} x this`,
    ],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  process.stdout.write(
    `\nEvent Metrics Service benchmark: FerretDB on ${r.backend}, ${r.machine.cpus} cores, Node ${r.machine.node}\n\n`,
  );
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}\n`);
  process.stdout.write('\n');
}
