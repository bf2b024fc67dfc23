import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runningPid, startDaemon } from './daemons';
import { ensureFerretDb, ensureRedisServer } from './install';

/** FerretDB (on the stack's PostgreSQL) and Redis, each a detached daemon with a pid file. */

export interface ServerFiles {
  pidFile: string;
  logFile: string;
}

export async function startFerretDb(
  options: ServerFiles & { root: string; port: number; postgresUrl: string; say: (line: string) => void },
): Promise<number> {
  const running = runningPid(options.pidFile);
  if (running !== undefined) return running;
  const bin = ensureFerretDb(options.root, options.say);
  return startDaemon({
    name: 'FerretDB',
    command: bin,
    args: [
      `--listen-addr=127.0.0.1:${options.port}`,
      `--postgresql-url=${options.postgresUrl}`,
      '--log-level=warn',
    ],
    pidFile: options.pidFile,
    logFile: options.logFile,
    port: options.port,
  });
}

export async function startRedis(
  options: ServerFiles & { dataDir: string; port: number; persistent: boolean; say: (line: string) => void },
): Promise<number> {
  const running = runningPid(options.pidFile);
  if (running !== undefined) return running;
  const bin = ensureRedisServer(options.say);
  mkdirSync(options.dataDir, { recursive: true });
  return startDaemon({
    name: 'Redis',
    command: bin,
    args: redisServerArgs({ port: options.port, dataDir: options.dataDir, persistent: options.persistent }),
    pidFile: options.pidFile,
    logFile: options.logFile,
    port: options.port,
  });
}

/**
 * The arguments of one of our redis-server processes: on 127.0.0.1 in the foreground, logging to
 * stdout (the daemon's log file), never evicting (BullMQ's keys must never be dropped to make room,
 * see BullMQ's production guide), no RDB snapshots, an append-only file only when `persistent`.
 * `extra` adds settings (a cluster node's).
 */
export function redisServerArgs(options: {
  port: number;
  dataDir: string;
  persistent: boolean;
  extra?: readonly string[];
}): string[] {
  const persistence = options.persistent
    ? ['--appendonly', 'yes', '--appendfsync', 'everysec']
    : ['--appendonly', 'no'];
  return [
    '--bind',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.extra ?? []),
    '--dir',
    options.dataDir,
    '--save',
    '',
    ...persistence,
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--logfile',
    '',
  ];
}

export function serverFiles(dir: string, name: string): ServerFiles {
  return { pidFile: join(dir, `${name}.pid`), logFile: join(dir, `${name}.log`) };
}
