/**
 * One-off measurement, not a test: starts the built API (dist/main.js api, with the service's Node
 * flags from src/nodeFlags.ts) as its own process, uploads a generated CSV of about 10 MiB and
 * samples the process's RSS from /proc while it runs.
 *
 *   npm run build && npx tsc -p tsconfig.bench.json
 *   STACK_MONGO_PORT=27400 STACK_REDIS_PORT=6400 npm run stack -- start --dir /tmp/ems-bench --ephemeral
 *   MONGODB_URI=mongodb://127.0.0.1:27400/ REDIS_URL=redis://127.0.0.1:6400 node artifacts/bench-build/bench/uploadMemory.js
 *   npm run stack -- stop --dir /tmp/ems-bench
 * Run from the repository root (it starts ./dist/main.js). BENCH_NODE_ARGS adds Node flags;
 * UPLOAD_MIB sets the file size (default 10) and CYCLE_ROWS makes rows repeat (see writeCsv).
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
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

/**
 * Writes a CSV of about `targetBytes` to `path`. With `cycleRows`, row i repeats row i % cycleRows:
 * such a file exercises parsing, validation and the spool at any size while the database only
 * sees the first cycle (repeats close together are dropped before inserting).
 */
async function writeCsv(path: string, targetBytes: number, cycleRows: number): Promise<number> {
  const out = createWriteStream(path);
  const header = 'userId,eventType,timestamp,metadata\n';
  out.write(header);
  let size = header.length;
  let rows = 0;
  while (size < targetBytes) {
    const lines: string[] = [];
    for (let n = 0; n < 10_000 && size < targetBytes; n++, rows++) {
      const i = rows % cycleRows;
      const line = `user-${i % 50_000},${['click', 'view', 'purchase'][i % 3] ?? 'x'},${new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString()},"{""page"":""/p/${i % 97}""}"\n`;
      lines.push(line);
      size += line.length;
    }
    if (!out.write(lines.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return rows;
}

/**
 * POSTs the file as the multipart field `file`, streamed from disk, with no client-side timeout:
 * Node's fetch (undici) waits at most 300 s for response headers by default (headersTimeout), and
 * a big file of distinct rows is still being inserted then.
 */
function postFile(url: string, path: string): Promise<{ status: number; body: string }> {
  const boundary = `ems-bench-${Date.now()}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.csv"\r\n` +
      'Content-Type: text/csv\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolveAnswer, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + statSync(path).size + tail.length),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => {
        resolveAnswer({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.write(head);
    const file = createReadStream(path);
    file.on('error', reject);
    file.on('end', () => req.end(tail));
    file.pipe(req, { end: false });
  });
}

async function main(): Promise<void> {
  const mongo = process.env.MONGODB_URI;
  const redis = process.env.REDIS_URL;
  if (mongo === undefined || redis === undefined) throw new Error('set MONGODB_URI and REDIS_URL');
  const uploadMiB = Number(process.env.UPLOAD_MIB ?? '10');
  const cycleRows = Number(process.env.CYCLE_ROWS ?? String(Number.MAX_SAFE_INTEGER));
  const csvPath = resolve(process.cwd(), 'artifacts', 'bench', `upload-${uploadMiB}MiB-${cycleRows}.csv`);
  mkdirSync(dirname(csvPath), { recursive: true });
  const rows = await writeCsv(csvPath, uploadMiB * MIB, cycleRows);
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
        MAX_UPLOAD_BYTES: String(uploadMiB * MIB + MIB),
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
  const res = await postFile(`http://127.0.0.1:${port}/api/uploads`, csvPath);
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const body = res.body;
  const report = {
    status: res.status,
    body: JSON.parse(body) as unknown,
    fileMiB: +(statSync(csvPath).size / MIB).toFixed(2),
    cycleRows: cycleRows === Number.MAX_SAFE_INTEGER ? null : cycleRows,
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
  rmSync(csvPath, { force: true });
}

void main();
