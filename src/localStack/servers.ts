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
  // noeviction: BullMQ's keys must never be dropped to make room (see BullMQ's production guide).
  const persistence = options.persistent
    ? ['--appendonly', 'yes', '--appendfsync', 'everysec']
    : ['--appendonly', 'no'];
  return startDaemon({
    name: 'Redis',
    command: bin,
    args: [
      '--bind',
      '127.0.0.1',
      '--port',
      String(options.port),
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
    ],
    pidFile: options.pidFile,
    logFile: options.logFile,
    port: options.port,
  });
}

export function serverFiles(dir: string, name: string): ServerFiles {
  return { pidFile: join(dir, `${name}.pid`), logFile: join(dir, `${name}.log`) };
}
