/**
 * Processes for the benchmark: the built CLI timed from spawn to exit, supervisors that are
 * always killed (process group) even when the harness fails, and RSS read from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let bin = path.join(ROOT, 'dist', 'main.js');

/**
 * Runs a private copy of dist/ from here on: a rebuild (`npm run build`, or another checkout's test run) may replace dist/ while a run of
 * several minutes is under way, and a half-written bundle must not end up in the figures.
 * The copy keeps package.json (ESM) and reaches node_modules through a symlink, so it works
 * for a bundle and for plain tsc output alike.
 */
export function snapshotDist(dist = path.join(ROOT, 'dist')): string {
  if (!fs.existsSync(path.join(dist, 'main.js'))) throw new Error(`${dist}/main.js is missing; run npm run build first`);
  const snapshotDir = temporary('queuectl-bench-dist-').dir;
  fs.cpSync(dist, path.join(snapshotDir, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(snapshotDir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(snapshotDir, 'node_modules'));
  bin = path.join(snapshotDir, 'dist', 'main.js');
  return bin;
}

/** The user's environment without QUEUECTL_* settings: every store is chosen by its cwd. */
export function benchEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('QUEUECTL_')));
}

export const now = (): number => performance.now();

export interface Timed {
  ms: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node ARGS...` to completion and times it from spawn to exit. */
export function timeNode(args: string[], cwd: string, input?: string, env: NodeJS.ProcessEnv = {}): Timed {
  const start = now();
  const result = spawnSync(process.execPath, args, { cwd, env: { ...benchEnv(), ...env }, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  const ms = now() - start;
  if (result.error) throw result.error;
  return { ms, status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI and fails loudly if it does: a benchmark of an error path would be meaningless. */
export function queuectl(args: string[], cwd: string, input?: string, env: NodeJS.ProcessEnv = {}): Timed {
  const result = timeNode([bin, ...args], cwd, input, env);
  if (result.status !== 0) throw new Error(`queuectl ${args.join(' ')} exited ${result.status}: ${result.stderr.trim()}`);
  return result;
}

const running = new Set<Supervisor>();
const temporaries = new Set<string>();

/** A fresh temporary directory, removed by `remove()` or, at the latest, when the harness exits. */
export function temporary(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temporaries.add(dir);
  return {
    dir,
    remove: () => {
      fs.rmSync(dir, { recursive: true, force: true });
      temporaries.delete(dir);
    },
  };
}

/** Last resort: whatever happens to the harness, no supervisor or temporary file outlives it. */
function killAll(): void {
  for (const supervisor of running) supervisor.kill();
  for (const dir of temporaries) fs.rmSync(dir, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll();
    process.stderr.write(`bench: ${signal}, supervisors killed\n`);
    process.exit(130);
  });
}

/** A `queuectl worker start` in a process group of its own (its pid is the group id). */
export class Supervisor {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  log = '';
  exited = false;
  private readonly exit: Promise<void>;

  /** `env` is added to the bench's environment: QUEUECTL_DATABASE_URL chooses PostgreSQL. */
  constructor(cwd: string, count: number, nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}) {
    this.startedAt = now();
    this.child = spawn(process.execPath, [...nodeArgs, bin, 'worker', 'start', '--count', String(count)], {
      cwd,
      env: { ...benchEnv(), ...env },
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error('could not start queuectl worker start');
    this.pid = this.child.pid;
    running.add(this);
    // Keep only the tail: a 1,000-job drain logs a few thousand lines.
    this.child.stderr?.on('data', (chunk: Buffer) => (this.log = (this.log + chunk.toString('utf8')).slice(-20_000)));
    this.exit = new Promise((resolve) => this.child.on('exit', () => {
      this.exited = true;
      running.delete(this);
      resolve();
    }));
  }

  /** SIGKILL to the whole group: the primary and its workers. */
  kill(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /** A graceful stop (SIGTERM: finish and record running jobs), then SIGKILL if it takes too long. */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.exited) return;
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exit;
    clearTimeout(timer);
    // Workers ignore SIGTERM and exit when the primary disconnects; make sure none is left.
    this.kill();
  }
}

function vmRssKb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The highest sum of VmRSS over a process and its direct children (a primary and its workers). */
export class RssSampler {
  peakKb = 0;
  /** The primary's own share of the peak sample. */
  peakPrimaryKb = 0;
  /** How many children the peak sample counted. */
  peakChildren = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  private sample(): void {
    const primary = vmRssKb(this.pid);
    const children = childrenOf(this.pid);
    const total = children.reduce((sum, pid) => sum + vmRssKb(pid), primary);
    if (total > this.peakKb) {
      this.peakKb = total;
      this.peakPrimaryKb = primary;
      this.peakChildren = children.length;
    }
    this.samples++;
  }

  stop(): number {
    clearInterval(this.timer);
    return this.peakKb;
  }
}

/**
 * The bare spawn loop, run in a fresh Node process of its own; prints its wall time in ms.
 * `ignore`: output discarded, same process group. `isolated`: what queuectl does for each job
 * and nothing else: its own process group, stdout and stderr appended to a log file of its own.
 */
const BARE_LOOP = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [total, concurrency, command, logs] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3], process.argv[4]];
if (logs) fs.mkdirSync(logs, { recursive: true });
const start = process.hrtime.bigint();
let started = 0;
let finished = 0;
const next = () => {
  if (started >= total) return;
  const i = started++;
  const log = logs ? fs.openSync(logs + '/' + i + '.log', 'a', 0o600) : null;
  const options = log === null ? { stdio: 'ignore' } : { stdio: ['ignore', log, log], detached: true };
  spawn('/bin/sh', ['-c', command], options).on('exit', () => {
    if (++finished === total) console.log(Number(process.hrtime.bigint() - start) / 1e6);
    else next();
  });
  if (log !== null) fs.closeSync(log);
};
for (let i = 0; i < Math.min(concurrency, total); i++) next();
`;

export type BareMode = 'ignore' | 'isolated';

/**
 * Runs `/bin/sh -c COMMAND` `total` times, `concurrency` at a time: the floor for a drain. It runs
 * in a fresh process, like a supervisor's worker: forking from this one, whose heap holds the
 * stores it built, would be slower and flatter the ratio.
 */
export function bareDrain(total: number, concurrency: number, command: string, cwd: string, mode: BareMode = 'ignore'): Promise<number> {
  const logs = mode === 'isolated' ? fs.mkdtempSync(path.join(cwd, 'bare-logs-')) : '';
  return new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', BARE_LOOP, String(total), String(concurrency), command, logs], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && Number(out) > 0 ? resolve(Number(out)) : reject(new Error(`the bare spawn loop exited ${code}: ${out}`))));
  }).finally(() => {
    if (logs) fs.rmSync(logs, { recursive: true, force: true });
  });
}

/** The RSS of a bare Node process that has started and sits idle (the floor for any of ours). */
export async function idleNodeRssKb(): Promise<number> {
  const child = spawn(process.execPath, ['-e', "setTimeout(() => console.log('idle'), 200); setInterval(() => {}, 60_000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`the idle node exited ${code}`)));
    });
    await sleep(300);
    return vmRssKb(child.pid as number);
  } finally {
    child.kill('SIGKILL');
  }
}

/** VmRSS of a process and of each of its direct children, in kB. */
export function rssTreeKb(pid: number): { primary: number; children: number[] } {
  return { primary: vmRssKb(pid), children: childrenOf(pid).map(vmRssKb) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
