import { openAsBlob } from 'node:fs';
import type { MongoClient } from 'mongodb';
import { freePort, startService, waitForHealth, type BenchStack, type ServiceProcess } from './processes';
import { waitForProjections } from './projectionsCaughtUp';

/**
 * `npm run bench -- --workers N`: processing time of one uploaded file with 1, 2, ... N worker
 * processes at once (one API), each count on a database and Redis prefix of its own on one stack.
 * Processing is timed from the process call to the batch completed and every projection caught up.
 */

export interface WorkerScalingRow {
  workers: number;
  processSeconds: number;
  completedSeconds: number;
  eventsPerSecond: number;
  newEvents: number;
}

async function json<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export async function measureWorkerScaling(options: {
  stack: BenchStack;
  mongo: MongoClient;
  csvPath: string;
  rows: number;
  maxWorkers: number;
  env: Record<string, string>;
  services: ServiceProcess[];
  say: (line: string) => void;
}): Promise<WorkerScalingRow[]> {
  const results: WorkerScalingRow[] = [];
  for (let workers = 1; workers <= options.maxWorkers; workers++) {
    const port = await freePort();
    const name = `bench_workers_${workers}`;
    const env = { ...options.env, PORT: String(port), MONGODB_DB: name, REDIS_PREFIX: name };
    const api = startService('api', env);
    const mine = [api, ...Array.from({ length: workers }, () => startService('worker', env))];
    options.services.push(...mine);
    try {
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitForHealth(baseUrl, 60_000);
      const form = new FormData();
      form.append('file', await openAsBlob(options.csvPath, { type: 'text/csv' }), 'events.csv');
      options.say(`${workers} worker(s): uploading ${options.rows} rows...`);
      const upload = await json<{ batchId: string; totalEvents: number }>(
        await fetch(`${baseUrl}/api/uploads`, { method: 'POST', body: form }),
        'upload',
      );
      const started = Date.now();
      await json(
        await fetch(`${baseUrl}/api/batches/${upload.batchId}/process`, { method: 'POST' }),
        'process',
      );
      for (;;) {
        const batch = await json<{ status: string }>(
          await fetch(`${baseUrl}/api/batches/${upload.batchId}`),
          'GET batch',
        );
        if (batch.status === 'completed') break;
        if (batch.status === 'failed') throw new Error('the batch failed');
        await new Promise((r) => setTimeout(r, 50));
      }
      const completed = Date.now();
      await waitForProjections(options.mongo.db(name));
      const processSeconds = (Date.now() - started) / 1000;
      results.push({
        workers,
        processSeconds,
        completedSeconds: (completed - started) / 1000,
        eventsPerSecond: upload.totalEvents / processSeconds,
        newEvents: upload.totalEvents,
      });
      options.say(`${workers} worker(s): processed in ${processSeconds.toFixed(2)} s`);
    } finally {
      await Promise.all(mine.map((s) => s.stop()));
      await options.mongo.db(name).dropDatabase();
    }
  }
  return results;
}

export function printWorkerScaling(rows: readonly WorkerScalingRow[]): void {
  const lines = [
    '| worker processes | processing until projections caught up | batch completed | events/s |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${r.processSeconds.toFixed(2)} s | ${r.completedSeconds.toFixed(2)} s | ${Math.round(r.eventsPerSecond)} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
