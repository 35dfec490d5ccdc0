/**
 * Facts about processes, read from /proc: a pid's start time tells a live process from a
 * reused pid, and a job's environment marks every process that belongs to it.
 */
import fs from 'node:fs';
import os from 'node:os';

/** The pid's start time in clock ticks since boot, or null if no such process exists. */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X') return null;
  return fields[19] ?? null;
}

export const HOST = os.hostname();

export interface ProcessIdentity {
  pid: number;
  started: string;
  host: string;
}

/**
 * Whether the process that wrote this identity still runs. On another host we cannot know,
 * so such a process counts as alive: nothing it owns is ever taken from it.
 */
export function isRunning(identity: ProcessIdentity): boolean {
  if (identity.host !== HOST) return true;
  const me = selfIdentity();
  if (identity.pid === me.pid) return identity.started === me.started;
  return processStartTime(identity.pid) === identity.started;
}

let self: ProcessIdentity | null = null;

export function selfIdentity(): ProcessIdentity {
  self ??= { pid: process.pid, started: processStartTime(process.pid) ?? 'unknown', host: HOST };
  return self;
}

/** Every process whose environment carries `NAME=value` for all the given pairs. */
export function findProcessesWithEnv(pairs: Record<string, string>): number[] {
  const wanted = Object.entries(pairs).map(([name, value]) => `${name}=${value}`);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8');
    } catch {
      continue;
    }
    const vars = environ.split('\0');
    if (wanted.every((pair) => vars.includes(pair)) && processStartTime(Number(entry)) !== null) found.push(Number(entry));
  }
  return found;
}

/** Signals a process group; one that is already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
