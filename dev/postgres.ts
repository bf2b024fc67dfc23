import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemon, stopDaemon, StackError, runningPid } from './daemons';
import { ensurePostgres } from './install';

/**
 * A PostgreSQL cluster of the stack's own: `initdb` into the stack folder, a private port on
 * 127.0.0.1 only (no Unix socket), trust authentication for the `postgres` role. PostgreSQL refuses
 * to run as root, so a root caller runs it as the `postgres` user, who must own the data folder.
 */

export interface PostgresOptions {
  dataDir: string;
  port: number;
  logFile: string;
  pidFile: string;
  /** Throwaway (tests): no fsync. A killed server keeps its commits either way (they reach the OS). */
  ephemeral: boolean;
  say: (line: string) => void;
}

export interface Account {
  uid: number;
  gid: number;
}

/** The `postgres` account when running as root (undefined for anyone else, who runs it as themselves). */
export function postgresAccount(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const fields = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
    ?.split(':');
  if (fields?.[2] === undefined || fields[3] === undefined) {
    throw new StackError(
      'running as root needs a `postgres` user to run PostgreSQL (apt-get install postgresql creates it)',
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function run(binDir: string, command: string, args: string[], account: Account | undefined): void {
  const done = spawnSync(join(binDir, command), args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(account ?? {}),
  });
  if (done.status !== 0) {
    throw new StackError(
      `${command} failed: ${(done.stderr || done.stdout || `exit ${done.status}`).trim()}`,
    );
  }
}

/** Whether this PostgreSQL build takes lz4 (PostgreSQL 14 and later, when built with it). */
function supportsLz4(binDir: string, dataDir: string, account: Account | undefined): boolean {
  const probe = ['-C', 'default_toast_compression', '-c', 'default_toast_compression=lz4', '-D', dataDir];
  return spawnSync(join(binDir, 'postgres'), probe, { stdio: 'ignore', ...(account ?? {}) }).status === 0;
}

export function postgresUrl(port: number, database = 'postgres'): string {
  return `postgres://postgres@127.0.0.1:${port}/${database}`;
}

/** Creates the cluster on first use, then starts it; returns its pid. */
export async function startPostgres(options: PostgresOptions): Promise<number> {
  const running = runningPid(options.pidFile);
  if (running !== undefined) return running;
  const binDir = ensurePostgres(options.say);
  const account = postgresAccount();
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    mkdirSync(options.dataDir, { recursive: true });
    chmodSync(options.dataDir, 0o700);
    if (account !== undefined) chownSync(options.dataDir, account.uid, account.gid);
    options.say(`creating a PostgreSQL cluster in ${options.dataDir}...`);
    run(
      binDir,
      'initdb',
      ['-D', options.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'],
      account,
    );
  }
  const settings = [
    `port=${options.port}`,
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=',
    'max_connections=300',
    // FerretDB's statements name the field as a parameter: only a plan made for the values can use
    // an index on it (equalityIndexes.ts).
    'plan_cache_mode=force_custom_plan',
    // A filter on a field reads the field out of the row's whole jsonb document, which the planner
    // prices as nothing: on a table of few large documents (chunks, series months) it would scan
    // and decompress every document for one `_id`. Off, it takes an index whenever one serves the
    // filter, and scans only when none does (docs/performance.md).
    'enable_seqscan=off',
    // FerretDB keeps a document in one jsonb value, compressed when large (a metric-series month is
    // a few MB): lz4 writes them faster than the default pglz (docs/performance.md).
    ...(supportsLz4(binDir, options.dataDir, account) ? ['default_toast_compression=lz4'] : []),
    ...(options.ephemeral ? ['fsync=off', 'full_page_writes=off'] : []),
  ];
  const pid = await startDaemon({
    name: 'PostgreSQL',
    command: join(binDir, 'postgres'),
    args: ['-D', options.dataDir, ...settings.flatMap((s) => ['-c', s])],
    pidFile: options.pidFile,
    logFile: options.logFile,
    port: options.port,
    ...(account === undefined ? {} : { user: account }),
  });
  await untilAcceptingSessions(options.port);
  return pid;
}

/** How long a started cluster may refuse sessions while it starts up (a loaded machine is slow). */
const STARTUP_WAIT_MS = 120_000;

/**
 * PostgreSQL listens before it accepts sessions: until its start-up (or crash recovery) is over, a
 * connection gets "the database system is starting up". Waits for a query to go through.
 */
async function untilAcceptingSessions(port: number): Promise<void> {
  const deadline = Date.now() + STARTUP_WAIT_MS;
  for (;;) {
    try {
      runSql(port, 'SELECT 1');
      return;
    } catch (error) {
      const starting = error instanceof StackError && /starting up|not yet accepting/.test(error.message);
      if (!starting || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

/** Runs SQL with psql against one database of the cluster; returns psql's output. */
export function runSql(port: number, sql: string, database = 'postgres'): string {
  const binDir = ensurePostgres(() => undefined);
  const done = spawnSync(
    join(binDir, 'psql'),
    [postgresUrl(port, database), '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'],
    {
      input: sql,
      encoding: 'utf8',
    },
  );
  if (done.status !== 0) throw new StackError(`psql failed: ${done.stderr.trim()}`);
  return done.stdout;
}

/** Creates a database in the cluster (for a FerretDB of its own); no-op when it exists. */
export function createDatabase(port: number, name: string): void {
  runSql(
    port,
    `SELECT 'CREATE DATABASE ${name}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${name}')\\gexec`,
  );
}

/** Fast shutdown (SIGINT): open sessions are cut, committed data is kept. */
export function stopPostgres(pidFile: string): Promise<boolean> {
  return stopDaemon(pidFile, 'SIGINT');
}
