/**
 * `worker start`: the cluster primary. It alone talks to the store: each turn records finished
 * runs, takes back interrupted claims and claims due jobs for free workers in one transaction,
 * then sends the claimed jobs to their workers. While runs are short it claims a few more, which
 * wait here (see backlog.ts) for the next worker to come free. It wakes when jobs.json changes
 * (a directory watch), when a worker reports, when the next scheduled job falls due, and on a
 * slow poll.
 */
import { Backlog, type Waiting } from './backlog.ts';
import type { Config } from '../lifecycle/config.ts';
import { holdsClaim, WAITING, type Claim, type Finished, type Interrupted, type Turn } from '../lifecycle/dispatch.ts';
import { parseDuration } from '../lifecycle/duration.ts';
import { QueueError } from '../lifecycle/error.ts';
import { failpoint } from '../system/failpoint.ts';
import { logFile } from './joblog.ts';
import type { Job, Owner } from '../lifecycle/job.ts';
import { loadCron } from '../lifecycle/cron.ts';
import type { CronRules } from '../lifecycle/schedule.ts';
import { Pool, type Assignment, type Slot } from './pool.ts';
import { HOST, selfIdentity, type ProcessIdentity } from '../system/proc.ts';
import { killRun, logCrashes, OrphanWatch, runMarkers } from './recovery.ts';
import type { Phase, Registration, StopRequest, Store, SupervisorRecord, TurnOutcome, TurnRequest } from '../store/store.ts';
import { describeEvent, describeStart } from './supervisor-log.ts';
import { WorkerLines } from './worker-lines.ts';
import { BATCH_MS, HAND_BACK_AFTER_MS, MAX_WAITING, POLL_MS, RECOVER_EVERY_MS } from './knobs.ts';

export { HAND_BACK_AFTER_MS } from './knobs.ts';

export interface SupervisorOptions {
  store: Store;
  count: number;
  log: (line: string) => void;
}

export class Supervisor {
  private readonly self: ProcessIdentity = selfIdentity();
  private readonly pool: Pool;
  private readonly orphans = new OrphanWatch();
  private phase: Phase = 'running';
  private registration: Registration | null = null;
  private stopRequested: StopRequest | null = null;
  private signals = 0;
  private finished: Finished[] = [];
  private interrupted: Interrupted[] = [];
  private released: (Claim & { quiet: boolean })[] = [];
  /** Waiting claims sent to a worker since the last commit: the next one records where. */
  private placed: Turn['placed'] = [];
  private readonly backlog = new Backlog();
  /** Free workers a turn under way is claiming for: jobs from the backlog go elsewhere meanwhile. */
  private reserved = new Set<Slot>();
  private ticking = false;
  private again = false;
  private lastError = '';
  private renewError = '';
  /** When the last renewal that succeeded began (registering is the first); what workers' fences count from. */
  private renewedAt: number | null = null;
  private timers: NodeJS.Timeout[] = [];
  private dueTimer: NodeJS.Timeout | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  private handBackTimer: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;
  private done: (code: number) => void = () => {};
  private stopping = false;
  /** Dead workers' jobs whose processes are still being killed. */
  private killing = 0;
  /** Schedules whose hand-edited expression or zone cannot be read, by name → `cron tz`: not fired until that changes. */
  private brokenSchedules = new Map<string, string>();
  /** When lost claims were last looked for; `lost`: what that found. */
  private recoveredAt = 0;
  private lost: Job[] = [];
  /** Our claims as the store last gave them, until their results are recorded: what a crash is logged against. */
  private readonly claims = new Map<string, Job>();
  /** Loaded once a schedule is due. */
  private cron: CronRules | null = null;
  private readonly lines = new WorkerLines((line) => this.log(line));
  /** A moving average of how long runs take; null until one has finished. */
  private typicalRunMs: number | null = null;

  constructor(private readonly options: SupervisorOptions) {
    this.pool = new Pool(options.count, {
      ready: (slot) => {
        // A new worker (at start, or replacing one that died) is fenced before its first job, not
        // only from the next renewal on: a supervisor stopped meanwhile must not leave it unfenced.
        this.sendLease(slot);
        this.fill();
        this.wake();
      },
      started: (slot, job) => this.lines.started(slot.index, job.id, `job ${job.id} started on worker ${slot.index}${job.pid ? ` (pid ${job.pid})` : ''}`),
      finished: (slot, job, message) => {
        this.lines.ended(slot.index, job.id);
        this.finished.push({ id: job.id, owner: job.owner, started_at: job.started_at, result: message.result, interrupted: message.interrupted });
        const took = Date.parse(message.result.finished_at) - Date.parse(message.result.started_at);
        this.typicalRunMs = this.typicalRunMs === null ? took : 0.8 * this.typicalRunMs + 0.2 * took;
        this.fill();
        this.wake();
      },
      died: (slot, running, how) => this.workerDied(slot, running, how),
    });
  }

  /**
   * How many jobs each worker accounts for: the one it runs, and while runs are short (shorter
   * than one of our commits, with its two fsyncs) a few more waiting here, so that they follow
   * each other without waiting for this process's next write. Long runs get one at a time.
   */
  private depth(): number {
    const typical = this.typicalRunMs;
    if (typical === null || typical >= HAND_BACK_AFTER_MS / 2) return 1;
    // Enough waiting to keep the worker busy for about as long as a job may wait.
    return 1 + Math.min(MAX_WAITING, Math.ceil(HAND_BACK_AFTER_MS / Math.max(typical, 1)));
  }

  /**
   * How many more jobs to claim: `depth` per ready worker, less what is held (running or waiting).
   * A worker whose run has outlasted the hand-back time counts for its own job only.
   */
  private openings(now: number): number {
    const depth = this.depth();
    const room = this.pool.slots.reduce((sum, slot) => sum + (!slot.worker || !slot.ready ? 0 : this.isLong(slot, now) ? 1 : depth), 0);
    return Math.max(0, room - this.pool.busy().length - this.backlog.length);
  }

  private isLong(slot: Slot, now: number): boolean {
    return slot.job !== null && now - slot.job.sentAt >= HAND_BACK_AFTER_MS;
  }

  private get store(): Store {
    return this.options.store;
  }

  private log(line: string): void {
    this.options.log(`${new Date().toISOString()} ${line}`);
  }

  /** Runs until stopped; resolves with the exit status. */
  async run(): Promise<number> {
    // A broken store (a hand-edited jobs.json, an unreachable database) is reported now, not once per poll.
    await this.store.readJobs();
    const record: SupervisorRecord = { ...this.self, started_at: new Date().toISOString(), count: this.options.count, cwd: this.store.home.dir, phase: 'running' };
    const registering = Date.now();
    this.registration = await this.store.register(record);
    this.renewedAt = registering;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => this.onSignal(signal));
    // Someone else's change (a cancel above all) is looked at now, not after a batching pause:
    // a cancelled job waiting here must not be sent to a worker that comes free meanwhile.
    this.unwatch = this.store.watch(({ own, stop }) => {
      // A stop request is read with the next renewal: that is now.
      if (stop) void this.renew();
      if (own) this.wake();
      else this.tick();
    });
    this.timers.push(setInterval(() => this.wake(), POLL_MS));
    const renewEvery = this.registration.renewEveryMs;
    if (renewEvery !== null) this.timers.push(setInterval(() => void this.renew(), renewEvery));
    this.log(describeStart(this.self.pid, this.options.count, this.store.where));
    this.pool.start();
    this.wake();
    return new Promise((resolve) => (this.done = resolve));
  }

  /**
   * Renews the heartbeat and the leases of our claims (PostgreSQL), then tells the workers how
   * long their runs may go on without another renewal: a supervisor that cannot renew (the
   * database unreachable, this process stopped) has its jobs killed by its workers before its
   * lease can run out, so that a job recovered elsewhere never runs beside its old run.
   */
  private async renew(): Promise<void> {
    const registration = this.registration;
    if (!registration || this.stopping) return;
    const began = Date.now();
    try {
      const { stop } = await registration.renew(this.phase);
      if (this.renewError) this.log('lease renewed again');
      this.renewError = '';
      this.renewedAt = began;
      for (const slot of this.pool.slots) this.sendLease(slot);
      if (stop) this.onStopRequest(stop);
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.renewError) this.log(`cannot renew the lease (running jobs are stopped if this goes on): ${message}`);
      this.renewError = message;
    }
  }

  /** Tells a worker how long its run may go on without another renewal (PostgreSQL only). */
  private sendLease(slot: Slot): void {
    const fence = this.registration?.fenceMs ?? null;
    if (fence === null || this.renewedAt === null) return;
    this.pool.send(slot, { type: 'lease', validForMs: Math.max(0, this.renewedAt + fence - Date.now()) });
  }

  /** `worker stop` from any host: a drain, or a forced stop, as the first and second signals do. */
  private onStopRequest(stop: StopRequest): void {
    const wanted = stop === 'force' ? 2 : 1;
    if (this.signals >= wanted) return;
    this.log(`worker stop asked this supervisor to ${stop === 'force' ? 'stop now' : 'stop'}`);
    while (this.signals < wanted) this.onSignal('worker stop');
  }

  private onSignal(signal: string): void {
    this.signals++;
    this.pool.stopReplacing();
    if (this.signals === 1) {
      this.setPhase('draining');
      this.handBack();
      const busy = this.pool.busy().length;
      this.log(`${signal}: draining, no new jobs will start; waiting for ${busy} running job${busy === 1 ? '' : 's'} (signal again to force)`);
    } else if (this.signals === 2) {
      this.setPhase('forcing');
      this.log(`${signal}: forcing: running jobs get SIGTERM, then SIGKILL, and go back to pending`);
      for (const slot of this.pool.busy()) if (slot.job) this.pool.send(slot, { type: 'stop', id: slot.job.id });
    } else {
      this.log(`${signal}: killing running jobs now`);
      for (const slot of this.pool.busy()) if (slot.job) this.pool.send(slot, { type: 'kill', id: slot.job.id });
    }
    this.wake();
  }

  /** The store says it too, so that `status` and `worker stop` can tell. */
  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.registration?.renew(phase).catch((error: Error) => this.log(`cannot record the ${phase} phase in the store: ${error.message}`));
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
      else this.interrupted.push({ id: job.id, owner: job.owner, started_at: job.started_at, reason: `worker ${slot.index} ${how}`, orphan: false });
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
   * dry meanwhile: each is busy, and a job waits here for each. Nothing else is waiting for it.
   */
  private canBatch(): boolean {
    if (this.phase !== 'running' || this.interrupted.length > 0 || this.released.length > 0) return false;
    return this.pool.slots.every((slot) => slot.ready && slot.job) && this.backlog.length >= this.pool.slots.length && !this.backlog.blocked();
  }

  /** Sends waiting jobs, in start order, to the free workers. */
  private fill(): void {
    if (this.phase !== 'running' || this.stopping) return;
    for (const slot of this.pool.free()) {
      if (this.reserved.has(slot)) continue;
      const next = this.backlog.next();
      if (!next) break;
      const { job } = next;
      const owner = job.owner as Owner;
      if (this.send(slot, job, next.config)) this.placed.push({ id: job.id, owner, started_at: job.started_at as string, worker: slot.index });
    }
    this.armHandBack();
  }

  /**
   * Jobs wait here only while a worker is about to come free. Once every worker has been busy for
   * the hand-back time, they go back to pending, for any supervisor's free worker to take.
   */
  private armHandBack(): void {
    if (this.handBackTimer) clearTimeout(this.handBackTimer);
    this.handBackTimer = null;
    if (this.backlog.length === 0 || this.phase !== 'running' || this.pool.free().length > 0) return;
    const latest = Math.max(0, ...this.pool.busy().map((slot) => (slot.job as Assignment).sentAt));
    this.handBackTimer = setTimeout(() => {
      this.handBackTimer = null;
      const now = Date.now();
      if (this.pool.free().length > 0 || !this.pool.busy().every((slot) => this.isLong(slot, now))) return this.armHandBack();
      this.handBack();
      this.wake();
    }, Math.max(0, latest + HAND_BACK_AFTER_MS - Date.now()) + 1);
  }

  /** Every waiting job goes back to pending (in the next turn), without a log line: it is routine. */
  private handBack(): void {
    for (const { job } of this.backlog.takeAll()) this.released.push({ id: job.id, owner: job.owner as Owner, started_at: job.started_at as string, quiet: true });
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

  /**
   * Recovery: the store's lost claims (their supervisor gone, or their lease run out), looked for
   * on the slow poll rather than on every turn. Their leftover processes are stopped first; those
   * with none left are taken back in the next turn.
   */
  private async recover(): Promise<void> {
    if (Date.now() - this.recoveredAt < RECOVER_EVERY_MS) return;
    this.recoveredAt = Date.now();
    try {
      this.lost = await this.store.lostJobs();
    } catch (error) {
      this.recoveredAt = 0;
      return this.report(error);
    }
    const lost = new Set(this.lost.map((job) => job.id));
    const ready = this.orphans.scan(this.lost, lost, Date.now(), (line) => this.log(line));
    this.interrupted.push(...ready.filter((orphan) => !this.interrupted.some((known) => known.id === orphan.id)));
  }

  /** The ids of the jobs this supervisor holds: running on a worker, or waiting here. */
  private holding(): string[] {
    return [...this.pool.busy().map((slot) => (slot.job as Assignment).id), ...this.backlog.jobs().map((job) => job.id)];
  }

  /**
   * A worker that dies on receiving its job counts as a crash even before the job started (a
   * poison pill may kill it there); a claim of a dead supervisor that never started is handed back.
   * Only this host has the log that tells whether a run started: another host's counts as started.
   */
  private sortCrashes(): void {
    const local = this.interrupted.filter((item) => item.owner?.host === HOST);
    const known = [...this.lost, ...this.claims.values()];
    const neverStarted = logCrashes(this.store.home, known, local, this.store.now(), (line) => this.log(line));
    for (const crashed of this.interrupted.filter((item) => item.orphan && neverStarted.has(item.id))) {
      this.log(`job ${crashed.id}: ${crashed.reason} before its run started; back to pending`);
      this.released.push({ id: crashed.id, owner: crashed.owner as Owner, started_at: crashed.started_at as string, quiet: true });
    }
    this.interrupted = this.interrupted.filter((item) => !(item.orphan && neverStarted.has(item.id)));
  }

  private async turn(): Promise<void> {
    await this.recover();
    this.sortCrashes();
    const running = this.phase === 'running';
    const workers = running ? this.pool.free().filter((slot) => !this.reserved.has(slot)) : [];
    const request: TurnRequest = {
      finished: [...this.finished],
      interrupted: [...this.interrupted],
      released: [...this.released],
      placed: [...this.placed],
      self: this.self,
      workers: workers.map((slot) => slot.index),
      waiting: running ? Math.max(0, this.openings(Date.now()) - workers.length) : 0,
      holding: this.holding(),
      cron: this.cron,
      broken: this.brokenSchedules,
    };
    for (const slot of workers) this.reserved.add(slot);
    let outcome: TurnOutcome;
    try {
      outcome = await this.store.turn(request);
    } catch (error) {
      this.reserved.clear();
      this.fill();
      return this.report(error);
    }
    // The crash point is after a commit that changed something: an idle turn commits nothing.
    if (outcome.claimed.length + outcome.events.length + outcome.fired.length > 0) failpoint('after-turn-commit');
    this.lastError = '';
    this.reserved.clear();
    this.settle(request, outcome);
    if (outcome.firing && this.cron === null) {
      // The cron library is loaded only once a schedule is due; the next turn fires it.
      this.cron = await loadCron();
      this.again = true;
    }
    this.revokeLost(outcome.holding);
    for (const [id, { job }] of outcome.holding) if (this.claims.has(id)) this.claims.set(id, job);
    const later: Waiting[] = [];
    for (const job of outcome.claimed) {
      this.claims.set(job.id, job);
      const worker = (job.owner as Owner).worker;
      // A drain or force that began while this turn waited for the store starts nothing new.
      if (worker === WAITING || this.phase !== 'running') later.push({ job, config: outcome.config });
      else this.send(this.pool.slots[worker - 1] as Slot, job, outcome.config);
    }
    this.backlog.add(later);
    // A drain that began while this turn was committing takes back what would only wait.
    if (this.phase !== 'running') this.handBack();
    this.backlog.reorder(new Map([...outcome.holding].map(([id, held]) => [id, held.rank])), outcome.bar);
    this.fill();
    this.scheduleDue(outcome.nextDue);
  }

  /** What a committed turn settles: the results it took are done with, and it is said in the log. */
  private settle(request: TurnRequest, outcome: TurnOutcome): void {
    this.finished.splice(0, request.finished.length);
    this.interrupted.splice(0, request.interrupted.length);
    this.placed.splice(0, request.placed.length);
    const quiet = new Set(this.released.slice(0, request.released.length).filter((item) => item.quiet).map((item) => item.id));
    this.released.splice(0, request.released.length);
    for (const item of [...request.finished, ...request.interrupted, ...request.released]) this.claims.delete(item.id);
    for (const job of outcome.fired) this.log(`schedule ${job.schedule} fired: enqueued job ${job.id}`);
    for (const { name, error, spec: expression } of outcome.broken) {
      if (this.brokenSchedules.get(name) !== expression) this.log(`schedule ${name} cannot fire: ${error}; fix its "cron" or "tz" in jobs.json, or remove it`);
      this.brokenSchedules.set(name, expression);
    }
    for (const event of outcome.events) {
      const line = event.kind === 'released' && quiet.has(event.job.id) ? '' : describeEvent(event, this.store.now());
      this.lines.recorded(event.kind === 'ignored' ? event.id : event.job.id, line);
    }
    // A result the turn said nothing of holds up no worker's lines.
    for (const item of request.finished) this.lines.recorded(item.id, '');
  }

  /**
   * A job we hold that the store no longer gives us (cancelled, or edited by hand) must not run on:
   * a waiting one is dropped, a running one stopped. Its result will not be recorded.
   */
  private revokeLost(holding: TurnOutcome['holding']): void {
    const lost = (id: string, owner: Owner | null, startedAt: string | null): string | null => {
      const job = holding.get(id)?.job;
      if (job && holdsClaim(job, owner, startedAt)) return null;
      return job ? `is now ${job.state}` : 'is no longer in jobs.json';
    };
    for (const slot of this.pool.busy()) {
      const held = slot.job as Assignment;
      const what = held.revoked ? null : lost(held.id, held.owner, held.started_at);
      if (!what) continue;
      held.revoked = true;
      this.log(`job ${held.id} ${what}: stopping its run on worker ${slot.index}`);
      const why = holding.get(held.id)?.job.state === 'cancelled' ? 'cancelled' : `the job ${what}`;
      this.pool.send(slot, { type: 'revoke', id: held.id, why });
    }
    for (const job of this.backlog.jobs()) {
      const what = lost(job.id, job.owner, job.started_at);
      if (!what) continue;
      this.backlog.remove(job.id);
      this.claims.delete(job.id);
      this.log(`job ${job.id} ${what}: dropped before it started`);
    }
  }

  /** Sends a claimed job to its worker; if the worker has gone, the claim is handed back. */
  private send(slot: Slot, job: Job, config: Config): boolean {
    const owner = job.owner as Owner;
    const startedAt = job.started_at as string;
    const request = {
      id: job.id,
      command: job.command,
      cwd: job.cwd,
      attempt: job.attempts + 1,
      timeoutMs: job.timeout ? parseDuration(job.timeout) : null,
      timeoutText: job.timeout,
      killGraceMs: parseDuration(config.kill_grace),
      logFile: logFile(this.store.home, job.id),
      logMaxBytes: config.log_max_bytes,
      createdAt: job.created_at,
      env: { QUEUECTL_HOME: this.store.home.dir, QUEUECTL_ATTEMPT: String(job.attempts + 1), ...runMarkers(job.id, owner, startedAt) },
      jobEnv: job.env,
    };
    if (this.pool.assign(slot, { id: job.id, owner, started_at: startedAt, pid: null, sentAt: Date.now() }, request)) return true;
    this.released.push({ id: job.id, owner, started_at: startedAt, quiet: false });
    this.again = true;
    return false;
  }

  /** Wakes when the earliest scheduled or retrying job, or a schedule's next firing, falls due. */
  private scheduleDue(next: number | null): void {
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    if (next === null || this.phase !== 'running') return;
    const delay = next - this.store.now().getTime();
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
    if (this.handBackTimer) clearTimeout(this.handBackTimer);
    this.unwatch?.();
    await this.pool.close();
    await this.registration?.unregister().catch((error: Error) => this.log(`cannot remove this supervisor from the store: ${error.message}`));
    this.log(`supervisor ${this.self.pid} stopped`);
    this.done(0);
  }
}
