/**
 * `worker start`: the cluster primary. It alone talks to the store: each turn records finished
 * runs, takes back interrupted claims and claims due jobs for idle workers in one transaction,
 * then sends the claimed jobs to their workers. It wakes when jobs.json changes (a directory
 * watch), when a worker reports, when the next scheduled job falls due, and on a slow poll.
 */
import fs from 'node:fs';
import type { Config } from './config.ts';
import { sameOwner, takeTurn, type Finished, type Interrupted, type Turn } from './dispatch.ts';
import { parseDuration } from './duration.ts';
import { QueueError } from './error.ts';
import { failpoint } from './failpoint.ts';
import { ioError } from './atomic.ts';
import { ensureHome } from './home.ts';
import { logFile } from './joblog.ts';
import { nextDueTime, pickDue, type Job, type Owner } from './job.ts';
import type { JobsDocument } from './jobfile.ts';
import { loadCron } from './cron.ts';
import { fireSchedules, isScheduleDue, nextFiringTime, type CronRules } from './schedule.ts';
import { admitter, hasBlocked } from './workflow.ts';
import { Pool, type Assignment, type Slot } from './pool.ts';
import { HAND_BACK_AFTER_MS } from './worker.ts';
import { selfIdentity, type ProcessIdentity } from './proc.ts';
import { killRun, OrphanWatch, runMarkers } from './recovery.ts';
import { registerSupervisor, removeStale, unregisterSupervisor } from './registry.ts';
import { readConfig, readJobs, transact, type StoreContext } from './store.ts';
import { describeEvent, describeStart } from './supervisor-log.ts';

/**
 * At most this many jobs wait queued at a worker behind the running one, while runs are short.
 * Measured on 1,000 `true` jobs with 4 workers (bare spawn loop: 1.3 s): 3 queued drained them in
 * 4.1 s, 6 in 3.5 s, 10 in 3.0 s; each commit claims more, and there are fewer commits.
 */
const MAX_QUEUED = 16;

/** How long a turn may wait to record more results in one commit while every worker has work queued. */
const BATCH_MS = 10;

/** The slow safety poll; also how often dead supervisors' jobs are looked for. */
const POLL_MS = 1_000;

export interface SupervisorOptions {
  ctx: StoreContext;
  count: number;
  log: (line: string) => void;
}

type Phase = 'running' | 'draining' | 'forcing';

export class Supervisor {
  private readonly self: ProcessIdentity = selfIdentity();
  private readonly pool: Pool;
  private readonly orphans = new OrphanWatch();
  private phase: Phase = 'running';
  private signals = 0;
  private finished: Finished[] = [];
  private interrupted: Interrupted[] = [];
  private released: { id: string; owner: Owner; quiet: boolean }[] = [];
  private ticking = false;
  private again = false;
  private lastError = '';
  private timers: NodeJS.Timeout[] = [];
  private dueTimer: NodeJS.Timeout | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  private watcher: fs.FSWatcher | null = null;
  private done: (code: number) => void = () => {};
  private stopping = false;
  /** Dead workers' jobs whose processes are still being killed. */
  private killing = 0;
  /** Schedules whose hand-edited expression or zone cannot be read, by name → `cron tz`: not fired until that changes. */
  private brokenSchedules = new Map<string, string>();
  /** A moving average of how long runs take; null until one has finished. */
  private typicalRunMs: number | null = null;

  constructor(private readonly options: SupervisorOptions) {
    this.pool = new Pool(options.count, {
      ready: () => this.wake(),
      started: (slot, job) => this.log(`job ${job.id} started on worker ${slot.index}${job.pid ? ` (pid ${job.pid})` : ''}`),
      finished: (_slot, job, message) => {
        this.finished.push({ id: job.id, owner: job.owner, result: message.result, interrupted: message.interrupted });
        const took = Date.parse(message.result.finished_at) - Date.parse(message.result.started_at);
        this.typicalRunMs = this.typicalRunMs === null ? took : 0.8 * this.typicalRunMs + 0.2 * took;
        this.wake();
      },
      released: (_slot, jobs) => {
        // A routine hand-back from a worker whose running job turned out long: not worth a log line.
        this.released.push(...jobs.map((job) => ({ id: job.id, owner: job.owner, quiet: true })));
        this.wake();
      },
      died: (slot, running, queued, how) => {
        this.released.push(...queued.map((job) => ({ id: job.id, owner: job.owner, quiet: false })));
        this.workerDied(slot, running, how);
      },
    });
  }

  /**
   * How many jobs a worker may hold. While runs are short (shorter than one of our commits, with
   * its two fsyncs), a few wait queued behind the running one, so that they follow each other
   * without waiting for this process's next write; long runs get one at a time.
   */
  private depth(): number {
    const typical = this.typicalRunMs;
    if (typical === null || typical >= HAND_BACK_AFTER_MS / 2) return 1;
    // Enough queued to keep the worker busy for about as long as a queued job may wait.
    return 1 + Math.min(MAX_QUEUED, Math.ceil(HAND_BACK_AFTER_MS / Math.max(typical, 1)));
  }

  private get ctx(): StoreContext {
    return this.options.ctx;
  }

  private log(line: string): void {
    this.options.log(`${new Date().toISOString()} ${line}`);
  }

  /** Runs until stopped; resolves with the exit status. */
  run(): Promise<number> {
    // A broken jobs.json or config.json is reported now, not once per poll.
    readJobs(this.ctx, readConfig(this.ctx));
    try {
      ensureHome(this.ctx.home);
      removeStale(this.ctx.home);
      registerSupervisor(this.ctx.home, { ...this.self, started_at: new Date().toISOString(), count: this.options.count, cwd: this.ctx.home.dir });
    } catch (error) {
      if (typeof (error as NodeJS.ErrnoException).code !== 'string') throw error;
      throw ioError('register a supervisor in', this.ctx.home.supervisors, error as NodeJS.ErrnoException);
    }
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => this.onSignal(signal));
    this.watcher = fs.watch(this.ctx.home.dir, (_event, file) => {
      if (file === 'jobs.json') this.wake();
    });
    this.timers.push(setInterval(() => this.wake(), POLL_MS));
    this.log(describeStart(this.self.pid, this.options.count, this.ctx.home.dir));
    this.pool.start();
    this.wake();
    return new Promise((resolve) => (this.done = resolve));
  }

  private onSignal(signal: NodeJS.Signals): void {
    this.signals++;
    this.pool.stopReplacing();
    if (this.signals === 1) {
      this.phase = 'draining';
      for (const slot of this.pool.busy()) this.pool.send(slot, { type: 'release' });
      const busy = this.pool.busy().length;
      this.log(`${signal}: draining, no new jobs will start; waiting for ${busy} running job${busy === 1 ? '' : 's'} (signal again to force)`);
    } else if (this.signals === 2) {
      this.phase = 'forcing';
      this.log(`${signal}: forcing: running jobs get SIGTERM, then SIGKILL, and go back to pending`);
      for (const slot of this.pool.busy()) {
        this.pool.send(slot, { type: 'release' });
        if (slot.jobs[0]) this.pool.send(slot, { type: 'stop', id: slot.jobs[0].id });
      }
    } else {
      this.log(`${signal}: killing running jobs now`);
      for (const slot of this.pool.busy()) if (slot.jobs[0]) this.pool.send(slot, { type: 'kill', id: slot.jobs[0].id });
    }
    this.wake();
  }

  private workerDied(slot: Slot, job: Assignment | null, how: string): void {
    if (this.stopping && !job) return;
    this.log(`worker ${slot.index} ${how}${job ? ` while running job ${job.id}` : ''}${this.phase === 'running' ? '; starting a replacement' : ''}`);
    if (!job) return this.wake();
    // The job's processes may outlive their worker: it runs again only once they are all gone.
    this.killing++;
    void killRun(job.id, job.owner, job.started_at, job.pid).then((gone) => {
      this.killing--;
      if (!gone) this.log(`job ${job.id}: its processes would not die; it stays processing until they do`);
      else this.interrupted.push({ id: job.id, owner: job.owner, started_at: job.started_at, reason: `its worker ${how}` });
      this.wake();
    });
  }

  private wake(): void {
    if (!this.stopping && !this.ticking && this.canBatch()) {
      this.batchTimer ??= setTimeout(() => this.tick(), BATCH_MS);
      return;
    }
    this.tick();
  }

  /**
   * A turn may wait a moment to take more results into the same commit while no worker can run
   * dry meanwhile: each has a job queued behind the one it runs. Nothing else is waiting for it.
   */
  private canBatch(): boolean {
    if (this.phase !== 'running' || this.interrupted.length > 0 || this.released.length > 0) return false;
    return this.pool.slots.every((slot) => slot.ready && slot.jobs.length >= 2);
  }

  private tick(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    if (this.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    this.again = false;
    void (async () => {
      try {
        await this.turn();
      } finally {
        this.ticking = false;
      }
      if (this.again) this.wake();
      else this.finishIfDrained();
    })();
  }

  private ownerOf(slot: Slot): Owner {
    return { pid: this.self.pid, started: this.self.started, host: this.self.host, worker: slot.index };
  }

  private snapshot(): JobsDocument | null {
    try {
      return readJobs(this.ctx);
    } catch (error) {
      this.report(error);
      return null;
    }
  }

  private async turn(): Promise<void> {
    const doc = this.snapshot();
    if (doc === null) return;
    let jobs = doc.jobs;
    this.revokeLost(jobs);
    this.interrupted.push(...this.orphans.scan(jobs, Date.now(), (line) => this.log(line)).filter((orphan) => !this.interrupted.some((known) => known.id === orphan.id)));
    const idle = this.phase === 'running' ? this.pool.openings(this.depth(), HAND_BACK_AFTER_MS, Date.now()) : [];
    const work = this.finished.length + this.interrupted.length + this.released.length;
    const now = this.ctx.now();
    const firing = (doc.schedules ?? []).some((schedule) => isScheduleDue(schedule, now) && this.brokenSchedules.get(schedule.name) !== `${schedule.cron} ${schedule.tz}`);
    const needed = work > 0 || firing || (idle.length > 0 && pickDue(jobs, now, 1, admitter(doc.queues)).length > 0) || hasBlocked(jobs);
    if (!needed) return this.scheduleDue(doc);
    // The cron library is loaded only once a schedule is due; the transaction itself is synchronous.
    let cron: CronRules | null = null;
    if (firing) cron = await loadCron();

    const turn: Turn = { finished: [...this.finished], interrupted: [...this.interrupted], released: [...this.released], idle: idle.map((slot) => this.ownerOf(slot)), backoffBase: 0 };
    let outcome;
    let config: Config;
    try {
      outcome = await transact(this.ctx, (fresh, settings) => {
        config = settings;
        const at = this.ctx.now();
        // Firings are decided on the fresh read under the lock, and committed with the schedules they advance.
        const fired = cron && fresh.schedules ? fireSchedules(fresh.schedules, fresh.jobs, cron, at) : null;
        if (fired) {
          fresh.schedules = fired.schedules;
          fresh.jobs.push(...fired.added);
        }
        const result = takeTurn(fresh.jobs, { ...turn, backoffBase: settings.backoff_base, queues: fresh.queues }, at);
        fresh.jobs = result.jobs;
        const broken = (fired?.broken ?? []).map((entry) => ({ ...entry, spec: ((found) => `${found?.cron} ${found?.tz}`)(fresh.schedules?.find((schedule) => schedule.name === entry.name)) }));
        return { ...result, fired: fired?.added ?? [], broken, schedules: fresh.schedules };
      });
    } catch (error) {
      return this.report(error);
    }
    failpoint('after-turn-commit');
    this.lastError = '';
    this.finished.splice(0, turn.finished.length);
    this.interrupted.splice(0, turn.interrupted.length);
    const quiet = new Set(this.released.slice(0, turn.released.length).filter((item) => item.quiet).map((item) => item.id));
    this.released.splice(0, turn.released.length);
    for (const job of outcome.fired) this.log(`schedule ${job.schedule} fired: enqueued job ${job.id}`);
    for (const { name, error, spec: expression } of outcome.broken) {
      if (this.brokenSchedules.get(name) !== expression) this.log(`schedule ${name} cannot fire: ${error}; fix its "cron" or "tz" in jobs.json, or remove it`);
      this.brokenSchedules.set(name, expression);
    }
    for (const event of outcome.events) if (!(event.kind === 'released' && quiet.has(event.job.id))) this.log(describeEvent(event, this.ctx.now()));
    for (const job of outcome.claimed) this.dispatch(job, config!);
    jobs = outcome.jobs;
    this.scheduleDue({ ...doc, jobs, schedules: outcome.schedules });
  }

  /**
   * A job our workers hold that jobs.json no longer gives them (cancelled, or edited by hand) must
   * not run on: a queued one is dropped, a running one stopped. Its result will not be recorded.
   */
  private revokeLost(jobs: readonly Job[]): void {
    const byId = new Map(jobs.map((job) => [job.id, job]));
    for (const slot of this.pool.busy()) {
      for (const held of slot.jobs) {
        if (held.revoked) continue;
        const job = byId.get(held.id);
        if (job && job.state === 'processing' && sameOwner(job.owner, held.owner) && job.started_at === held.started_at) continue;
        held.revoked = true;
        const what = job ? `is now ${job.state}` : 'is no longer in jobs.json';
        this.log(`job ${held.id} ${what}: ${held.runningSince === null ? 'dropped from' : 'stopping its run on'} worker ${slot.index}`);
        this.pool.send(slot, { type: 'revoke', id: held.id });
      }
    }
  }

  private dispatch(job: Job, config: Config): void {
    const owner = job.owner as Owner;
    const slot = this.pool.slots[owner.worker - 1] as Slot;
    const startedAt = job.started_at as string;
    const request = {
      id: job.id,
      command: job.command,
      cwd: job.cwd,
      attempt: job.attempts + 1,
      timeoutMs: job.timeout ? parseDuration(job.timeout) : null,
      timeoutText: job.timeout,
      killGraceMs: parseDuration(config.kill_grace),
      logFile: logFile(this.ctx.home, job.id),
      logMaxBytes: config.log_max_bytes,
      env: { QUEUECTL_HOME: this.ctx.home.dir, QUEUECTL_ATTEMPT: String(job.attempts + 1), ...runMarkers(job.id, owner, startedAt) },
      jobEnv: job.env,
    };
    if (!this.pool.assign(slot, { id: job.id, owner, started_at: startedAt, pid: null, runningSince: null }, request)) {
      this.released.push({ id: job.id, owner, quiet: false });
      this.again = true;
    }
  }

  /** Wakes when the earliest scheduled or retrying job, or a schedule's next firing, falls due. */
  private scheduleDue(doc: JobsDocument): void {
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    const times = [nextDueTime(doc.jobs), nextFiringTime(doc.schedules)].filter((time) => time !== null);
    const next = times.length === 0 ? null : Math.min(...times);
    if (next === null || this.phase !== 'running') return;
    const delay = next - this.ctx.now().getTime();
    if (delay > 0 && delay < POLL_MS) this.dueTimer = setTimeout(() => this.wake(), delay + 1);
  }

  private report(error: unknown): void {
    const message = error instanceof QueueError ? error.message : String((error as Error)?.stack ?? error);
    if (message !== this.lastError) this.log(`cannot update the store (will keep trying): ${message}`);
    this.lastError = message;
  }

  private finishIfDrained(): void {
    if (this.phase === 'running' || this.stopping || this.ticking) return;
    if (this.pool.busy().length > 0 || this.killing > 0 || this.finished.length + this.interrupted.length + this.released.length > 0) return;
    this.stopping = true;
    void this.shutdown();
  }

  private async shutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.watcher?.close();
    await this.pool.close();
    unregisterSupervisor(this.ctx.home, this.self.pid);
    this.log(`supervisor ${this.self.pid} stopped`);
    this.done(0);
  }
}
