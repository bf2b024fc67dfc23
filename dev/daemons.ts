import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { portAnswers } from './ports';

/**
 * The stack's server processes (PostgreSQL, FerretDB, Redis). Each runs detached in its own process
 * group with a pid file in the stack folder, so a stack outlives the command that started it
 * (`npm run stack -- start`) and a later command can find, reuse or stop it.
 */

export class StackError extends Error {
  override name = 'StackError';
}

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  pidFile: string;
  logFile: string;
  port: number;
  /** Run as this user (PostgreSQL refuses to run as root). */
  user?: { uid: number; gid: number };
  /** How long start-up may take before it counts as failed. */
  startTimeoutMs?: number;
}

/** A process that has exited but was not reaped yet is a zombie: it still answers signal 0. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim().split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The pid of a daemon still running from an earlier start, if any. */
export function runningPid(pidFile: string): number | undefined {
  const pid = readPid(pidFile);
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

function lastLines(file: string, count = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts the daemon and waits until it accepts connections on its port. */
export async function startDaemon(spec: DaemonSpec): Promise<number> {
  // Otherwise that program's answer would pass for ours while ours exits unable to bind.
  if (await portAnswers(spec.port)) {
    throw new StackError(`${spec.name} cannot start: another program answers on port ${spec.port}`);
  }
  const log = openSync(spec.logFile, 'a');
  const child = spawn(spec.command, spec.args, {
    detached: true,
    stdio: ['ignore', log, log],
    ...(spec.user ?? {}),
  });
  closeSync(log);
  const failure = new Promise<never>((_resolve, reject) => {
    child.once('error', (error) => {
      reject(new StackError(`${spec.name} could not start: ${error.message}`));
    });
  });
  failure.catch(() => undefined);
  const pid = child.pid;
  if (pid === undefined) await failure;
  writeFileSync(spec.pidFile, `${pid}\n`);
  child.unref();
  const deadline = Date.now() + (spec.startTimeoutMs ?? 60_000);
  for (;;) {
    if (await portAnswers(spec.port)) return pid ?? 0;
    if (child.exitCode !== null || child.signalCode !== null) {
      rmSync(spec.pidFile, { force: true });
      throw new StackError(
        `${spec.name} exited during start-up; last lines of ${spec.logFile}:\n${lastLines(spec.logFile)}`,
      );
    }
    if (Date.now() > deadline) {
      throw new StackError(`${spec.name} did not answer on port ${spec.port} in time (log: ${spec.logFile})`);
    }
    await Promise.race([sleep(100), failure]);
  }
}

/** Sends `signal`, waits for the process to exit, and kills it after `graceMs`. */
export async function stopPid(
  pid: number,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
    }
    await sleep(50);
  }
}

export async function stopDaemon(pidFile: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  const pid = runningPid(pidFile);
  if (pid !== undefined) await stopPid(pid, signal);
  rmSync(pidFile, { force: true });
  return pid !== undefined;
}
