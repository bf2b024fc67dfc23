import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runningPid } from '../../dev/daemons';
import { installEqualityIndexes } from '../../dev/equalityIndexes';
import { freePort, portAnswers } from '../../dev/ports';
import { createDatabase, postgresUrl, stopPostgres } from '../../dev/postgres';
import { serverFiles } from '../../dev/servers';
import { startStack } from '../../dev/stack';
import { removeTestStack, TEST_STACK_PREFIX } from './stack/testStacks';

/**
 * A FerretDB or redis-server of a test's own, on its own port, so the test can stop and restart it
 * (a real fault) without disturbing other test files that share the throwaway stack.
 */
export interface PrivateServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts again on the same port with the same data folder. */
  start(): Promise<void>;
  /** Stops and deletes its data folder. */
  destroy(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing is answered, until `resume`. */
  pause(): void;
  resume(): void;
}

async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await portAnswers(port))) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited with code ${child.exitCode} during start-up`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.kill('SIGKILL');
  });
}

async function privateServer(
  name: string,
  command: (port: number, dir: string) => [string, string[]],
  url: (port: number) => string,
): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `ems-${name}-`));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const [bin, args] = command(port, dir);
    child = spawn(bin, args, { stdio: 'ignore' });
    await waitForPort(port, child, name);
  };
  await start();
  return {
    url: url(port),
    port,
    start,
    stop: () => stopChild(child),
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async destroy() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A FerretDB of the test's own on a PostgreSQL database of its own in the test stack's cluster, so
 * stopping it (a real fault) disturbs no other test file; its data survives a stop and start.
 */
export async function startPrivateFerretDb(): Promise<PrivateServer & { postgresDatabase: string }> {
  const bin = process.env.FERRETDB_BIN;
  const pgPort = Number(process.env.TEST_POSTGRES_PORT);
  if (bin === undefined || !Number.isInteger(pgPort)) {
    throw new Error('FERRETDB_BIN / TEST_POSTGRES_PORT are not set: run the tests through Jest (npm test).');
  }
  const database = `ferret_${randomBytes(5).toString('hex')}`;
  createDatabase(pgPort, database);
  installEqualityIndexes(pgPort, database);
  const server = await privateServer(
    'ferretdb',
    (port) => [bin, [`--listen-addr=127.0.0.1:${port}`, `--postgresql-url=${postgresUrl(pgPort, database)}`]],
    (port) => `mongodb://127.0.0.1:${port}/`,
  );
  return { ...server, postgresDatabase: database };
}

export function startPrivateRedis(): Promise<PrivateServer> {
  return privateServer(
    'redis',
    (port, dir) => [
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
    ],
    (port) => `redis://127.0.0.1:${port}`,
  );
}

/**
 * A whole PostgreSQL cluster with FerretDB on it, of the test's own, so the test can stop and
 * restart PostgreSQL under a running FerretDB (an outage FerretDB passes on as server errors)
 * without disturbing the test files that share the throwaway stack.
 */
export async function startPrivatePostgresStack(): Promise<{
  mongoUri: string;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** SIGSTOP or SIGCONT to FerretDB: while stopped, commands already sent hang without an error. */
  signalFerretDb(signal: 'SIGSTOP' | 'SIGCONT'): void;
  destroy(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), TEST_STACK_PREFIX));
  // Removed by the next run's clean-up if this one dies before its teardown.
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const options = {
    dir,
    ports: { mongo: 0, redis: 0, postgres: 0 },
    ephemeral: true,
    want: { mongo: true, redis: false },
    root: resolve(__dirname, '..', '..'),
  };
  const state = await startStack(options);
  const { mongo, postgres } = state.ports;
  if (state.mongoUri === undefined || mongo === undefined || postgres === undefined) {
    throw new Error('the private stack started without FerretDB');
  }
  const mongoUri = state.mongoUri;
  const signalFerretDb = (signal: 'SIGSTOP' | 'SIGCONT'): void => {
    const pid = runningPid(serverFiles(dir, 'ferretdb').pidFile);
    if (pid === undefined) throw new Error('the private FerretDB is not running');
    process.kill(pid, signal);
  };
  return {
    mongoUri,
    async stopPostgres() {
      await stopPostgres(serverFiles(dir, 'postgres').pidFile);
    },
    async startPostgres() {
      await startStack({ ...options, ports: { mongo, postgres, redis: 0 } });
    },
    signalFerretDb,
    async destroy() {
      signalFerretDb('SIGCONT');
      await removeTestStack(dir);
    },
  };
}
