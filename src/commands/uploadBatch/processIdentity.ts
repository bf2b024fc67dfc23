import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Which process holds the store lease, precisely enough to tell from the same machine that it has
 * died: a lease whose holder is gone need not be waited out. Elsewhere only its expiry tells.
 */
export interface ProcessIdentity {
  host: string;
  /** Changes at every boot, so a pid from before a reboot is never taken for a live one. */
  bootId: string | null;
  pid: number;
  /** Start time in clock ticks since boot: a reused pid has another one. */
  startTicks: string | null;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat, read after the command name (which may hold spaces and parentheses). */
function startTicksOf(pid: number): string | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

export function currentProcess(): ProcessIdentity {
  return processIdentityOf(process.pid);
}

/** The identity of a process of this machine (its start time read from /proc). */
export function processIdentityOf(pid: number): ProcessIdentity {
  return {
    host: hostname(),
    bootId: readOrNull('/proc/sys/kernel/random/boot_id'),
    pid,
    startTicks: startTicksOf(pid),
  };
}

/** 'dead' only when this machine can tell for sure; otherwise the lease's expiry decides. */
export function holderState(
  holder: ProcessIdentity,
  self: ProcessIdentity = currentProcess(),
): 'dead' | 'unknown' {
  if (holder.host !== self.host || holder.bootId === null || self.bootId === null) return 'unknown';
  if (holder.bootId !== self.bootId) return 'dead';
  const ticks = startTicksOf(holder.pid);
  return ticks === null || ticks !== holder.startTicks ? 'dead' : 'unknown';
}

export function sameProcess(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.host === b.host && a.bootId === b.bootId && a.pid === b.pid && a.startTicks === b.startTicks;
}
