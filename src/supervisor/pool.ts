/**
 * The supervisor's worker slots: forks cluster workers, waits for their `ready`, tracks the job
 * each one runs (one at a time: jobs that wait, wait at the supervisor, in start order), and
 * replaces a worker that dies. Slot numbers (1..N) are what users see: a replacement takes over
 * its predecessor's number.
 */
import cluster, { type Worker } from 'node:cluster';
import { CRASH_LIMIT, CRASH_WINDOW_MS, SLOW_REPLACEMENT_MS } from './knobs.ts';
import { fileURLToPath } from 'node:url';
import type { Owner } from '../lifecycle/job.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import type { RunRequest } from './runner.ts';

export interface Assignment {
  id: string;
  /** The claim as jobs.json holds it (worker 0 if it waited at the supervisor first). */
  owner: Owner;
  started_at: string;
  pid: number | null;
  /** When it was sent to the worker (epoch ms). */
  sentAt: number;
  /** Told to stop it: jobs.json no longer gives it to this supervisor. */
  revoked?: boolean;
}

export interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  /** The job it runs, if any. */
  job: Assignment | null;
}

export interface PoolEvents {
  ready(slot: Slot): void;
  started(slot: Slot, job: Assignment): void;
  finished(slot: Slot, job: Assignment, message: Extract<FromWorker, { type: 'finished' }>): void;
  /** The worker died: `running` is the job it may have started. */
  died(slot: Slot, running: Assignment | null, how: string): void;
}


function workerEntry(): { exec: string; execArgv: string[] } {
  const url = import.meta.url;
  // Under tsx (development) the entry is TypeScript and the worker needs the loader too.
  if (url.endsWith('.ts')) return { exec: fileURLToPath(new URL('../worker-main.ts', url)), execArgv: ['--import', 'tsx'] };
  return { exec: fileURLToPath(new URL('./worker-main.js', url)), execArgv: [] };
}

export class Pool {
  readonly slots: Slot[];
  private deaths: number[] = [];
  private closing = false;

  constructor(count: number, private readonly events: PoolEvents) {
    this.slots = Array.from({ length: count }, (_, i) => ({ index: i + 1, worker: null, ready: false, job: null }));
    const { exec, execArgv } = workerEntry();
    cluster.setupPrimary({ exec, execArgv, args: [] });
  }

  start(): void {
    for (const slot of this.slots) this.fork(slot);
  }

  /** Ready workers without a job. */
  free(): Slot[] {
    return this.slots.filter((slot) => slot.worker && slot.ready && !slot.job);
  }

  busy(): Slot[] {
    return this.slots.filter((slot) => slot.job);
  }

  /** Sends a claimed job to its slot; false if the slot's worker is no longer there to take it. */
  assign(slot: Slot, job: Assignment, request: RunRequest): boolean {
    if (slot.job || !slot.worker || !slot.ready || !slot.worker.isConnected()) return false;
    slot.job = job;
    this.send(slot, { type: 'run', request });
    return true;
  }

  send(slot: Slot, message: ToWorker): void {
    // A worker may die between the check and the write (Ctrl+C reaches a worker that is still
    // starting, before it ignores SIGINT): its 'exit' event is what deals with that, not a crash.
    if (slot.worker?.isConnected()) slot.worker.send(message, () => {});
  }

  /** From a drain on: a worker that dies is not replaced. */
  stopReplacing(): void {
    this.closing = true;
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork({ QUEUECTL_WORKER_SLOT: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    worker.on('error', () => {});
    worker.on('message', (message: FromWorker) => {
      if (slot.worker !== worker) return;
      if (message.type === 'ready') {
        slot.ready = true;
        this.events.ready(slot);
      } else if (message.type === 'started') {
        const job = slot.job;
        if (job?.id !== message.id) return;
        job.pid = message.pid;
        this.events.started(slot, job);
      } else if (message.type === 'finished') {
        const job = slot.job;
        if (job?.id !== message.id) return;
        slot.job = null;
        this.events.finished(slot, job, message);
      }
    });
    worker.on('exit', (code, signal) => {
      if (slot.worker !== worker) return;
      const running = slot.job;
      slot.worker = null;
      slot.ready = false;
      slot.job = null;
      this.events.died(slot, running, signal ? `killed by ${signal}` : `exited with code ${code}`);
      if (!this.closing) this.replace(slot);
    });
  }

  private replace(slot: Slot): void {
    const now = Date.now();
    this.deaths = [...this.deaths.filter((at) => now - at < CRASH_WINDOW_MS), now];
    const delay = this.deaths.length >= CRASH_LIMIT ? SLOW_REPLACEMENT_MS : 0;
    setTimeout(() => {
      if (!this.closing && !slot.worker) this.fork(slot);
    }, delay).unref();
  }

  /** Disconnects every worker and resolves once all have exited (SIGKILL after `graceMs`). */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    const workers = this.slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), graceMs);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (worker.isConnected()) worker.disconnect();
          }),
      ),
    );
  }
}
