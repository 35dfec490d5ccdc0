/**
 * Real processes for end-to-end supervisor tests: `queuectl worker start` as a child in a
 * session (and process group) of its own, so a test can signal the whole group the way a
 * terminal's Ctrl+C does, plus what /proc says about any process. Liveness ignores zombies:
 * this machine's init does not reap orphans, so a killed orphan stays a zombie forever.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { BIN, cleanEnv } from './cli.ts';
import { waitFor } from './wait.ts';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
}

/** The parsed /proc/<pid>/stat, or null if there is no such process. */
export function procInfo(pid: number): ProcInfo | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0] ?? '?', ppid: Number(fields[1]), pgid: Number(fields[2]) };
}

export function isAlive(pid: number): boolean {
  const info = procInfo(pid);
  return info !== null && info.state !== 'Z' && info.state !== 'X';
}

/** Every live (non-zombie) process. */
export function liveProcesses(): ProcInfo[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      const info = procInfo(Number(entry));
      return info && info.state !== 'Z' && info.state !== 'X' ? [info] : [];
    });
}

export function groupAlive(pgid: number): boolean {
  return liveProcesses().some((info) => info.pgid === pgid);
}

export function childrenOf(pid: number): number[] {
  return liveProcesses()
    .filter((info) => info.ppid === pid)
    .map((info) => info.pid);
}

export function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

export function environOf(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  let text = '';
  try {
    text = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return env;
  }
  for (const pair of text.split('\0')) {
    const at = pair.indexOf('=');
    if (at > 0) env.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return env;
}

/** Live processes whose environment has NAME=value; every process a sandbox starts carries its tag. */
export function processesWithEnv(name: string, value: string): number[] {
  return liveProcesses()
    .map((info) => info.pid)
    .filter((pid) => environOf(pid).get(name) === value);
}

/** Sends a signal, ignoring a process (or group) that is already gone. */
export function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface StartOptions {
  cwd: string;
  count: number;
  env?: NodeJS.ProcessEnv;
}

/** A running `queuectl worker start`: its pid is also its process group and session id. */
export class SupervisorProcess {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;
  private stderr = '';
  private stdout = '';

  constructor(readonly child: ChildProcess) {
    if (child.pid === undefined) throw new Error('could not start queuectl worker start');
    this.pid = child.pid;
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        const exit = this.exit;
        // Its last log lines may still be in the pipe: wait for it to close, but not for ever
        // (a worker that outlived the supervisor would hold it open).
        const late = setTimeout(() => resolve(exit), 1_000);
        void closed.then(() => {
          clearTimeout(late);
          resolve(exit);
        });
      });
    });
  }

  /** Everything it wrote to stderr so far: its log. */
  get log(): string {
    return this.stderr;
  }

  get output(): string {
    return this.stdout;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Signals the whole process group: the supervisor and its workers, as Ctrl+C would. */
  signalGroup(signal: NodeJS.Signals): void {
    trySignal(-this.pid, signal);
  }

  async waitLog(pattern: RegExp, timeout = 10_000): Promise<RegExpMatchArray> {
    return waitFor(() => this.log.match(pattern), { timeout, what: `supervisor ${this.pid} to log ${pattern}\n--- its log so far:\n${this.log}` });
  }

  async waitExit(timeout = 10_000): Promise<Exit> {
    const timer = new Promise<never>((_, reject) => {
      const handle = setTimeout(() => reject(new Error(`supervisor ${this.pid} still running after ${timeout}ms\n--- its log:\n${this.log}`)), timeout);
      void this.exited.then(() => clearTimeout(handle));
    });
    return Promise.race([this.exited, timer]);
  }

  /** Its cluster workers: child processes running worker-main.js. */
  workers(): number[] {
    return childrenOf(this.pid).filter((pid) => cmdlineOf(pid).includes('worker-main.js'));
  }

  /** The worker process that holds slot `index` (1-based, as in `owner.worker`). */
  workerInSlot(index: number): number | null {
    return this.workers().find((pid) => environOf(pid).get('QUEUECTL_WORKER_SLOT') === String(index)) ?? null;
  }
}

/** Starts `queuectl worker start --count N` in a new session, as a user's terminal would run it. */
export function startSupervisor({ cwd, count, env = {} }: StartOptions): SupervisorProcess {
  const child = spawn(process.execPath, [BIN, 'worker', 'start', '--count', String(count)], {
    cwd,
    env: cleanEnv(env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new SupervisorProcess(child);
}

/**
 * Samples the processes of traced job runs (see supervisor-runs.ts: a traced command exports
 * E2E_JOB=<id>, so its children carry it; a run is its process group) and remembers any
 * moment when two runs of one job were alive at once. A sample every few tens of milliseconds
 * cannot miss leftovers that live on for seconds.
 */
export class RunWatch {
  private timer: NodeJS.Timeout;
  readonly overlaps: string[] = [];
  /** Every run (process group) seen alive, per job id. */
  readonly seen = new Map<string, Set<number>>();

  constructor(private readonly tag: string, intervalMs = 30) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  private sample(): void {
    const alive = new Map<string, Map<number, number[]>>();
    for (const info of liveProcesses()) {
      const env = environOf(info.pid);
      const id = env.get('E2E_JOB');
      if (env.get('E2E_SANDBOX') !== this.tag || id === undefined) continue;
      const runs = alive.get(id) ?? new Map<number, number[]>();
      runs.set(info.pgid, [...(runs.get(info.pgid) ?? []), info.pid]);
      alive.set(id, runs);
      this.seen.set(id, (this.seen.get(id) ?? new Set()).add(info.pgid));
    }
    for (const [id, runs] of alive) {
      if (runs.size > 1) {
        const which = [...runs].map(([pgid, pids]) => `group ${pgid} (pids ${pids.join(',')})`).join(' and ');
        this.overlaps.push(`${new Date().toISOString()} job ${id}: two runs alive at once: ${which}`);
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
