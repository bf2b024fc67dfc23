import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, openAsBlob, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../src/config';
import { generateCsv } from './generateCsv';
import { measureUploadRows, printUploadRows } from './uploadRows';
import { measureFloor } from './floor';
import { loadTestMetrics, seedYearOfMetrics, seedYearOfSeries, SERIES_PATH } from './metricsLoad';
import { freePort, ROOT, startService, startStack, waitForHealth, type ServiceProcess } from './processes';
import { printTable, type BenchResult } from './report';
import { measureCorrections, printCorrections } from './corrections';
import { measurePosts, printPosts } from './eventPosts';
import { readLogOnce, waitForProjections, waitForQuiet } from './projectionsCaughtUp';
import { measureSeriesRows } from './seriesRows';
import { measureWorkerScaling, printWorkerScaling } from './workerScaling';

/**
 * `npm run bench [-- --quick | --large]`: the pipeline against the database's own floor.
 * `npm run bench -- --workers N [--quick | --rows=N]`: processing time with 1..N worker processes.
 * `npm run bench -- --series`: only the series rows (a year x 300 types; see seriesRows).
 * `npm run bench -- --posts [--quick]`: only the upload and the POST /api/events rows (bench/eventPosts).
 * `npm run bench -- --corrections [--large]`: erasing a user, then retracting the batch (bench/corrections).
 * `npm run bench -- --uploads`: five overlapping 10 MiB uploads at once against one alone, and a re-upload
 *   after the API was killed mid-upload against a clean upload (bench/uploadRows).
 * Starts its own PostgreSQL, FerretDB and Redis and its own API and worker processes; never touches a
 * developer's data. Prints a table and writes JSON under artifacts/bench/.
 */

const OUT = join(ROOT, 'artifacts', 'bench');

/** Settings a run may set as `--<knob>=N` (the service's environment variable, upper case). */
const KNOBS = ['events-per-chunk', 'worker-concurrency', 'events-group-window-ms'];

/** `--workers N` or `--workers=N`: measure worker scaling up to N processes instead. */
function workersFor(args: string[]): number | undefined {
  const at = args.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
  if (at < 0) return undefined;
  const arg = args[at] ?? '';
  const value = arg.includes('=') ? arg.slice('--workers='.length) : args[at + 1];
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers wants a whole number >= 1');
  return workers;
}

function rowsFor(args: string[]): number {
  if (args.includes('--quick')) return 20_000;
  if (args.includes('--large')) return 1_000_000;
  const explicit = args.find((a) => a.startsWith('--rows='));
  return explicit === undefined ? 100_000 : Number(explicit.slice('--rows='.length));
}

const t0 = Date.now();
function say(message: string): void {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${message}\n`);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return [value, Number(process.hrtime.bigint() - started) / 1e9];
}

async function json<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function waitForCompleted(baseUrl: string, batchId: string): Promise<void> {
  for (;;) {
    const batch = await json<{ status: string; failedReason?: string | null }>(
      await fetch(`${baseUrl}/api/batches/${batchId}`),
      'GET batch',
    );
    if (batch.status === 'completed') return;
    if (batch.status === 'failed') throw new Error(`batch failed: ${batch.failedReason ?? '?'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const rows = rowsFor(args);
  mkdirSync(OUT, { recursive: true });
  const csvPath = join(OUT, `events-${rows}.csv`);
  if (!existsSync(csvPath) && !args.includes('--series') && !args.includes('--uploads')) {
    say(`generating ${csvPath}...`);
    await generateCsv(csvPath, { rows });
  }

  const stack = await startStack();
  const services: ServiceProcess[] = [];
  // Interrupted runs still stop what they started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const s of services) s.child.kill('SIGKILL');
      void stack.stop().finally(() => process.exit(130));
    });
  }
  const mongo = await new MongoClient(stack.mongoUri).connect();
  try {
    const port = await freePort();
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      ADMIN_API_KEY: 'bench-admin-key-0123456789',
      MONGODB_URI: stack.mongoUri,
      MONGODB_DB: 'bench',
      REDIS_URL: stack.redisUrl,
      REDIS_PREFIX: 'bench',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      UPLOAD_RATE_LIMIT: '1000000',
      EVENTS_RATE_LIMIT: '1000000000',
      MAX_UPLOAD_BYTES: String(2 * 1024 ** 3),
      // Tuning knobs to compare: --events-per-chunk=N, --worker-concurrency=N,
      // --events-group-window-ms=N (service defaults otherwise).
      ...Object.fromEntries(
        args
          .filter((a) => KNOBS.some((knob) => a.startsWith(`--${knob}=`)))
          .map((a) => [
            a.slice(2, a.indexOf('=')).toUpperCase().replace(/-/g, '_'),
            a.slice(a.indexOf('=') + 1),
          ]),
      ),
    };
    if (args.includes('--series')) {
      const series = await measureSeriesRows({ out: OUT, db: mongo.db('bench'), env, services, say });
      process.stdout.write(`${JSON.stringify(series, null, 2)}\n`);
      const file = join(OUT, `series-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify(series, null, 2)}\n`);
      process.stderr.write(`written ${file}\n`);
      return;
    }
    const maxWorkers = workersFor(args);
    if (maxWorkers !== undefined) {
      const scaling = await measureWorkerScaling({
        stack,
        mongo,
        csvPath,
        rows,
        maxWorkers,
        env,
        services,
        say,
      });
      printWorkerScaling(scaling);
      const file = join(OUT, `workers-${rows}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(
        file,
        `${JSON.stringify({ rows, env: { EVENTS_PER_CHUNK: env.EVENTS_PER_CHUNK ?? 'default' }, scaling }, null, 2)}\n`,
      );
      process.stderr.write(`written ${file}\n`);
      return;
    }
    const api = startService('api', env);
    const worker = startService('worker', env);
    services.push(api, worker);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(baseUrl);
    const db = mongo.db('bench');
    if (args.includes('--uploads')) {
      // The API killed (SIGKILL) and started again under the same port, hence the same instance name.
      let running = api;
      const killApi = async (): Promise<void> => {
        const exited = once(running.child, 'exit');
        running.child.kill('SIGKILL');
        await exited;
        running = startService('api', env);
        services.push(running);
        await waitForHealth(baseUrl, 120_000);
      };
      const uploads = await measureUploadRows(baseUrl, db, killApi, say);
      printUploadRows(uploads);
      const file = join(OUT, `uploads-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify(uploads, null, 2)}\n`);
      process.stderr.write(`written ${file}\n`);
      return;
    }

    say(`uploading ${rows} rows...`);
    const [upload, uploadSeconds] = await timed(async () => {
      const form = new FormData();
      form.append('file', await openAsBlob(csvPath, { type: 'text/csv' }), `events-${rows}.csv`);
      return json<{ batchId: string; totalEvents: number; duplicates: number }>(
        await fetch(`${baseUrl}/api/uploads`, { method: 'POST', body: form }),
        'upload',
      );
    });
    const apiUploadPeak = api.peakRss();

    say(`processing ${upload.totalEvents} events...`);
    const [phases, processSeconds] = await timed(async () => {
      const started = Date.now();
      await json(
        await fetch(`${baseUrl}/api/batches/${upload.batchId}/process`, { method: 'POST' }),
        'process',
      );
      const called = Date.now();
      await waitForCompleted(baseUrl, upload.batchId);
      const completed = Date.now();
      await waitForProjections(db);
      return { call: (called - started) / 1000, completed: (completed - started) / 1000 };
    });
    say(`process call answered in ${phases.call} s; batch completed after ${phases.completed} s`);
    // Issue 25's row for the --large data: the year of the file's events, asked once (no answer cache).
    const [, coldYearSeconds] = await timed(async () => {
      const query = 'from=2024-01-01&to=2024-12-31&tz=Asia/Kolkata&interval=day';
      await (await fetch(`${baseUrl}/api/metrics/series?${query}`)).arrayBuffer();
    });

    if (args.includes('--corrections')) {
      const corrections = await measureCorrections({
        baseUrl,
        adminKey: env.ADMIN_API_KEY ?? '',
        db,
        batchId: upload.batchId,
        processSeconds,
        say,
      });
      printCorrections(corrections);
      const file = join(OUT, `corrections-${rows}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify({ rows, uploadSeconds, corrections }, null, 2)}\n`);
      process.stderr.write(`written ${file}\n`);
      return;
    }

    const posts = await measurePosts(baseUrl, say, () => waitForQuiet(db));
    if (args.includes('--posts')) {
      printPosts(posts, rows / uploadSeconds);
      const file = join(OUT, `posts-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(
        file,
        `${JSON.stringify({ uploadRowsPerSecond: rows / uploadSeconds, posts }, null, 2)}\n`,
      );
      process.stderr.write(`written ${file}\n`);
      return;
    }

    say('measuring the floor (insertMany of the same documents)...');
    const floor = await measureFloor(mongo.db('bench_floor'), csvPath);

    say('reading the log once, then rebuilding the projections...');
    const [logRecords, readLogSeconds] = await timed(() => readLogOnce(db));
    /** Runs a Node script to its end with the services' settings; throws `failure` if it fails. */
    const runScript = (script: string, failure: string) => async (): Promise<void> => {
      const ran = spawnSync(process.execPath, [script], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      if (ran.status !== 0) throw new Error(failure);
      return Promise.resolve();
    };
    const [, rebuildSeconds] = await timed(
      runScript(join(ROOT, 'dist', 'rebuildProjections.js'), 'rebuild-projections failed'),
    );
    // The same read by a process of its own: what start-up and connecting add to any such command.
    const [, readLogProcessSeconds] = await timed(
      runScript(join(__dirname, 'readLogProcess.js'), 'reading the log in a process of its own failed'),
    );

    say('seeding a year of days x 50 event types...');
    await seedYearOfMetrics(db);
    say('metrics query load: 50 connections, 10 s...');
    const load = await loadTestMetrics(baseUrl);
    say('seeding the same year in the metric series...');
    await seedYearOfSeries(db);
    // The first answer computes the year; the load measures what a polled dashboard sees after it.
    const [, firstSeriesSeconds] = await timed(async () => {
      await (await fetch(`${baseUrl}${SERIES_PATH}`)).arrayBuffer();
    });
    say('series query load (a year of days x 50 types): 50 connections, 10 s, 2 client threads...');
    const seriesLoad = await loadTestMetrics(baseUrl, SERIES_PATH, { 'accept-encoding': 'gzip' }, 2);
    say('the same from one client thread...');
    const seriesOneThread = await loadTestMetrics(baseUrl, SERIES_PATH, { 'accept-encoding': 'gzip' });

    // The cached-read front must earn its place: the same loads, same run, with an API without it.
    say('the same loads with the cached-read front off (CACHED_READ_FRONT=false)...');
    await api.stop();
    const plainApi = startService('api', { ...env, CACHED_READ_FRONT: 'false' });
    services.push(plainApi);
    await waitForHealth(baseUrl);
    await (await fetch(`${baseUrl}/api/metrics?date=2025-01-01`)).arrayBuffer();
    await (await fetch(`${baseUrl}${SERIES_PATH}`)).arrayBuffer();
    const withoutFront = {
      metrics: await loadTestMetrics(baseUrl),
      series: await loadTestMetrics(baseUrl, SERIES_PATH, { 'accept-encoding': 'gzip' }, 2),
    };

    const result: BenchResult = {
      rows,
      newEvents: upload.totalEvents,
      duplicates: upload.duplicates,
      uploadSeconds,
      uploadRowsPerSecond: rows / uploadSeconds,
      processSeconds,
      coldYearSeconds,
      endToEndSeconds: uploadSeconds + processSeconds,
      floorSeconds: floor.seconds,
      floorDocuments: floor.documents,
      ratio: (uploadSeconds + processSeconds) / floor.seconds,
      apiPeakRssMb: Math.max(apiUploadPeak, api.peakRss()) / 1024 ** 2,
      workerPeakRssMb: worker.peakRss() / 1024 ** 2,
      metrics: load,
      series: { ...seriesLoad, firstAnswerSeconds: firstSeriesSeconds },
      seriesOneThread,
      withoutFront,
      posts,
      logRecords,
      readLogSeconds,
      rebuildSeconds,
      rebuildOverRead: rebuildSeconds / readLogSeconds,
      readLogProcessSeconds,
      backend: 'postgresql',
      settings: {
        eventsPerChunk: loadConfig(env).processing.eventsPerChunk,
        workerConcurrency: loadConfig(env).processing.workerConcurrency,
      },
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      at: new Date().toISOString(),
    };
    printTable(result);
    printPosts(posts, result.uploadRowsPerSecond);
    const file = join(OUT, `result-${rows}-${result.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stderr.write(`written ${file}\n`);
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await mongo.close();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
