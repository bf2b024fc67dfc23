/**
 * One-off measurement, not a test: starts the built API (dist/main.js api, with the service's Node
 * flags from src/nodeFlags.ts) as its own process, uploads a generated CSV of about 10 MiB and
 * samples the process's RSS from /proc while it runs.
 *
 *   npm run build && npx tsc -p tsconfig.bench.json
 *   bash scripts/stack.sh start --dir /tmp/ems-bench --mongo-port 27400 --redis-port 6400 --ephemeral
 *   MONGODB_URI=mongodb://127.0.0.1:27400/ REDIS_URL=redis://127.0.0.1:6400 node artifacts/bench-build/bench/uploadMemory.js
 *   bash scripts/stack.sh stop --dir /tmp/ems-bench
 * Run from the repository root (it starts ./dist/main.js). BENCH_NODE_ARGS adds Node flags.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SERVICE_NODE_FLAGS } from '../src/nodeFlags';

const MIB = 1024 * 1024;

/** More Node flags for the API, e.g. BENCH_NODE_ARGS='--trace-gc' (later flags win). */
function extraNodeArgs(): string[] {
  return (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

function makeCsv(targetBytes: number): { csv: string; rows: number } {
  const lines = ['userId,eventType,timestamp,metadata'];
  let size = lines[0]?.length ?? 0;
  let i = 0;
  while (size < targetBytes) {
    const line = `user-${i % 50_000},${['click', 'view', 'purchase'][i % 3] ?? 'x'},${new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString()},"{""page"":""/p/${i % 97}""}"`;
    lines.push(line);
    size += line.length + 1;
    i++;
  }
  return { csv: `${lines.join('\n')}\n`, rows: i };
}

async function main(): Promise<void> {
  const mongo = process.env.MONGODB_URI;
  const redis = process.env.REDIS_URL;
  if (mongo === undefined || redis === undefined) throw new Error('set MONGODB_URI and REDIS_URL');
  const port = 3900 + Math.floor(Math.random() * 90);
  const child = spawn(
    process.execPath,
    [...SERVICE_NODE_FLAGS, ...extraNodeArgs(), resolve(process.cwd(), 'dist', 'main.js'), 'api'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        MONGODB_URI: mongo,
        MONGODB_DB: `bench_${Date.now()}`,
        REDIS_URL: redis,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        MAX_UPLOAD_BYTES: String(11 * MIB),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  await new Promise<void>((ok) => {
    child.stdout.on('data', (d: Buffer) => {
      if (process.env.BENCH_NODE_ARGS !== undefined) process.stderr.write(d);
      if (d.toString().includes('is up')) ok();
    });
  });

  const { csv, rows } = makeCsv(10 * MIB);
  const base = rssOf(pid);
  const started = Date.now();
  let peak = base;
  const timeline: number[] = [];
  const sampler = setInterval(() => {
    const rss = rssOf(pid);
    peak = Math.max(peak, rss);
    const second = Math.floor((Date.now() - started) / 1000);
    timeline[second] = Math.max(timeline[second] ?? 0, +(rss / MIB).toFixed(1));
  }, 20);
  const form = new FormData();
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'bench.csv');
  const res = await fetch(`http://127.0.0.1:${port}/api/uploads`, { method: 'POST', body: form });
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const body = await res.text();
  const report = {
    status: res.status,
    body: JSON.parse(body) as unknown,
    fileMiB: +(Buffer.byteLength(csv) / MIB).toFixed(2),
    rows,
    seconds,
    rowsPerSecond: Math.round(rows / seconds),
    rssBeforeMiB: +(base / MIB).toFixed(1),
    rssPeakMiB: +(peak / MIB).toFixed(1),
    rssGrowthMiB: +((peak - base) / MIB).toFixed(1),
    rssPeakPerSecondMiB: timeline.join(' '),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  child.kill('SIGTERM');
}

void main();
