import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVICE_NODE_FLAGS } from '../src/nodeFlags';

/** The benchmark's own stack and service processes: nothing here touches a developer's data. */

export const ROOT = resolve(__dirname, '..', '..', '..');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        res(port);
      });
    });
  });
}

export interface BenchStack {
  mongoUri: string;
  redisUrl: string;
  stop(): void;
}

/**
 * `postgresqlServer` (e.g. postgres://postgres@127.0.0.1:5432): FerretDB runs on a fresh database
 * created there (and dropped afterwards) instead of SQLite files.
 */
export async function startStack(postgresqlServer?: string): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), 'ems-bench-'));
  const pgDatabase = `ems_bench_${process.pid}`;
  const psql = (sql: string): void => {
    const url = postgresqlServer ?? '';
    const done = spawnSync('psql', [url, '-q', '-c', sql], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (done.status !== 0) throw new Error(`psql failed: ${sql}`);
  };
  if (postgresqlServer !== undefined) psql(`CREATE DATABASE ${pgDatabase}`);
  const stackEnv = {
    ...process.env,
    FERRETDB_POSTGRESQL_URL: postgresqlServer === undefined ? '' : `${postgresqlServer}/${pgDatabase}`,
  };
  const args = ['scripts/stack.sh', 'start', '--dir', dir, '--ephemeral'];
  args.push('--mongo-port', String(await freePort()), '--redis-port', String(await freePort()));
  const started = spawnSync('bash', args, {
    cwd: ROOT,
    env: stackEnv,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (started.status !== 0) throw new Error('could not start the benchmark stack');
  const values = new Map(
    started.stdout
      .trim()
      .split('\n')
      .map((line): [string, string] => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const mongoUri = values.get('MONGODB_URI');
  const redisUrl = values.get('REDIS_URL');
  if (typeof mongoUri !== 'string' || typeof redisUrl !== 'string') throw new Error('stack printed no URLs');
  return {
    mongoUri,
    redisUrl,
    stop() {
      spawnSync('bash', ['scripts/stack.sh', 'stop', '--dir', dir], { cwd: ROOT, stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
      if (postgresqlServer !== undefined) psql(`DROP DATABASE IF EXISTS ${pgDatabase}`);
    },
  };
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Peak resident set size so far (VmHWM), bytes. */
  peakRss(): number;
  /** Forgets the peak so far (Linux clear_refs), so a later phase is measured alone. */
  resetPeak(): void;
  stop(): Promise<void>;
}

export function startService(role: 'api' | 'worker', env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(ROOT, 'dist', 'main.js'), role], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the ${role}`);
  const status = (field: string): number => {
    try {
      const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return kb === undefined ? 0 : Number(kb) * 1024;
    } catch {
      return 0;
    }
  };
  return {
    child,
    peakRss: () => status('VmHWM'),
    resetPeak() {
      spawnSync('sh', ['-c', `echo 5 > /proc/${pid}/clear_refs`]);
    },
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null) {
          res();
          return;
        }
        child.once('exit', () => {
          res();
        });
        child.kill('SIGTERM');
      }),
  };
}

export async function waitForHealth(baseUrl: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(`${baseUrl}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${baseUrl} did not become healthy`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
