import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveHome } from '../../src/store/home.ts';
import { createJob } from '../../src/lifecycle/job.ts';
import { FileStore, type StoreContext } from '../../src/store/file/file-store.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'store-worker.ts');

/**
 * Milliseconds with sub-millisecond precision, comparable across processes: Linux's
 * CLOCK_MONOTONIC is one clock for the whole machine. `performance.timeOrigin` is not: each
 * process maps it to the wall clock once at start-up, and a process preempted while it does so
 * (a loaded machine) runs tens of milliseconds off for its whole life.
 */
export const preciseNow = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A store whose files live in `dir` (as QUEUECTL_HOME), with a clean environment. */
export function storeContext(dir: string, env: NodeJS.ProcessEnv = {}): StoreContext {
  return { home: resolveHome({ QUEUECTL_HOME: dir }, dir), env, now: () => new Date() };
}

export function appendJob(ctx: StoreContext, id: string): Promise<void> {
  return new FileStore(ctx).transact((doc) => {
    const now = ctx.now();
    doc.jobs.push(createJob({ id, command: `echo ${id}`, cwd: '/tmp', max_retries: 3, priority: 0, run_at: now, timeout: null, no_retry_on: [] }, now));
  });
}

export interface Worker {
  child: ChildProcessWithoutNullStreams;
  /** Everything the worker printed on stdout so far, and on stderr. */
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts test/support/store-worker.ts as its own OS process (see that file for the commands). */
export function spawnWorker(args: string[], failpoints = ''): Worker {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('QUEUECTL_')));
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { env: { ...env, QUEUECTL_FAILPOINTS: failpoints } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Kills a worker if it still runs, and waits until it is gone, so it cannot touch a removed temp dir. */
export async function stop(worker: Worker): Promise<void> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await worker.exited;
}
