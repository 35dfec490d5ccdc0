/**
 * The supervisor's worker slots: forks cluster workers, waits for their `ready`, tracks the job
 * each one runs, and replaces a worker that dies. Slot numbers (1..N) are what users see: a
 * replacement takes over its predecessor's number.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Owner } from './job.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import type { RunRequest } from './runner.ts';

export interface Assignment {
  id: string;
  owner: Owner;
  started_at: string;
  pid: number | null;
}

export interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  job: Assignment | null;
}

export interface PoolEvents {
  ready(slot: Slot): void;
  started(slot: Slot, job: Assignment): void;
  finished(slot: Slot, job: Assignment, message: Extract<FromWorker, { type: 'finished' }>): void;
  /** The worker died; `job` is what it was running, if anything. */
  died(slot: Slot, job: Assignment | null, how: string): void;
}

/** Five deaths within this window mean something is broken: replacements slow down. */
const CRASH_WINDOW_MS = 10_000;

function workerEntry(): { exec: string; execArgv: string[] } {
  const url = import.meta.url;
  // Under tsx (development) the entry is TypeScript and the worker needs the loader too.
  if (url.endsWith('.ts')) return { exec: fileURLToPath(new URL('./worker-main.ts', url)), execArgv: ['--import', 'tsx'] };
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

  idle(): Slot[] {
    return this.slots.filter((slot) => slot.worker && slot.ready && !slot.job);
  }

  busy(): Slot[] {
    return this.slots.filter((slot) => slot.job);
  }

  /** Sends a claimed job to its slot; false if the slot's worker is no longer there to take it. */
  assign(slot: Slot, job: Assignment, request: RunRequest): boolean {
    if (!slot.worker || !slot.ready || slot.job || !slot.worker.isConnected()) return false;
    slot.job = job;
    this.send(slot, { type: 'run', request });
    return true;
  }

  send(slot: Slot, message: ToWorker): void {
    if (slot.worker?.isConnected()) slot.worker.send(message);
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork({ QUEUECTL_WORKER_SLOT: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    worker.on('message', (message: FromWorker) => {
      if (slot.worker !== worker) return;
      if (message.type === 'ready') {
        slot.ready = true;
        this.events.ready(slot);
      } else if (message.type === 'started' && slot.job?.id === message.id) {
        slot.job.pid = message.pid;
        this.events.started(slot, slot.job);
      } else if (message.type === 'finished' && slot.job?.id === message.id) {
        const job = slot.job;
        slot.job = null;
        this.events.finished(slot, job, message);
      }
    });
    worker.on('exit', (code, signal) => {
      if (slot.worker !== worker) return;
      const job = slot.job;
      slot.worker = null;
      slot.ready = false;
      slot.job = null;
      this.events.died(slot, job, signal ? `killed by ${signal}` : `exited with code ${code}`);
      if (!this.closing) this.replace(slot);
    });
  }

  private replace(slot: Slot): void {
    const now = Date.now();
    this.deaths = [...this.deaths.filter((at) => now - at < CRASH_WINDOW_MS), now];
    const delay = this.deaths.length >= 5 ? 1_000 : 0;
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
