import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startStack as startLocalStack, stopStack } from '../dev/stack';
import { freePort } from '../dev/ports';
import { SERVICE_NODE_FLAGS } from '../src/nodeFlags';

/** The benchmark's own stack and service processes: nothing here touches a developer's data. */

export const ROOT = resolve(__dirname, '..', '..', '..');

export { freePort };

export interface BenchStack {
  mongoUri: string;
  redisUrl: string;
  stop(): Promise<void>;
}

/** A throwaway stack (PostgreSQL, FerretDB, Redis) on free ports in a temporary folder. */
export async function startStack(): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), 'ems-bench-'));
  // The `postgres` user (PostgreSQL as run by root) must reach the folder; mkdtemp makes it 0700.
  chmodSync(dir, 0o755);
  const state = await startLocalStack({
    dir,
    ports: { mongo: 0, redis: 0, postgres: 0 },
    ephemeral: true,
    root: ROOT,
  });
  if (state.mongoUri === undefined || state.redisUrl === undefined) throw new Error('the stack gave no URLs');
  return {
    mongoUri: state.mongoUri,
    redisUrl: state.redisUrl,
    async stop() {
      await stopStack(dir);
      rmSync(dir, { recursive: true, force: true });
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

/** Where the services' logs go (one file per role, appended to): artifacts/bench/logs/<role>.log. */
const LOGS = join(ROOT, 'artifacts', 'bench', 'logs');

export function startService(role: 'api' | 'worker', env: Record<string, string>): ServiceProcess {
  mkdirSync(LOGS, { recursive: true });
  const log = openSync(join(LOGS, `${role}.log`), 'a');
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(ROOT, 'dist', 'main.js'), role], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', log, 'inherit'],
  });
  closeSync(log); // the child has its own copy
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
        // A child killed by a signal (the --uploads kill) has no exit code, only the signal.
        if (child.exitCode !== null || child.signalCode !== null) {
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
