/**
 * The soak's nemesis: at seeded intervals it picks a seeded fault and a seeded target among
 * what runs at that moment: SIGKILL of a worker, a supervisor alone, a whole supervisor group,
 * an enqueue or a job; SIGSTOP of a supervisor, a worker or an enqueue (some past the lock's
 * stale limit), continued later; every supervisor and enqueue stopped while the lock is held and
 * continued one by one; removal of the lock directory; Ctrl+C (drain), a double Ctrl+C (force),
 * and `worker stop`. Stopped supervisors restart (see fleet.ts).
 *
 * Against PostgreSQL (supervisors on simulated hosts) the lock faults have nothing to hit; in
 * their place come a supervisor stopped past its lease, a host's link cut and restored, and a
 * server restart (`pg_ctl restart -m fast`).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from '../support/cli.ts';
import type { Host } from '../support/netns.ts';
import { environOf, liveProcesses, trySignal } from '../support/supervisor-proc.ts';
import { soakEnv, type Backend } from './backend.ts';
import type { Fleet } from './fleet.ts';
import type { Rng } from './prng.ts';
import type { Enqueuer } from './workload.ts';

export const FAULTS = {
  'kill-worker': 3,
  'kill-supervisor': 2,
  'kill-group': 2,
  'kill-enqueue': 2,
  'kill-job': 1,
  'stop-supervisor': 2,
  'stop-worker': 1,
  'stop-enqueue': 2,
  'delete-lock': 2,
  'freeze-lock-holder': 1,
  'ctrl-c': 2,
  'double-ctrl-c': 1,
  'worker-stop': 1,
} as const;

export const POSTGRES_FAULTS = {
  'kill-worker': 2,
  'kill-supervisor': 3,
  'kill-group': 2,
  'kill-enqueue': 1,
  'kill-job': 1,
  'stop-supervisor': 1,
  'stop-past-lease': 2,
  'stop-worker': 1,
  'stop-enqueue': 1,
  'cut-link': 3,
  'restart-postgres': 2,
  'ctrl-c': 1,
  'double-ctrl-c': 1,
  'worker-stop': 1,
} as const;

export type Fault = keyof typeof FAULTS | keyof typeof POSTGRES_FAULTS;

/** The store promises recovery within 15 s of a supervisor's last renewal: a stop this long is past its lease. */
const PAST_LEASE_MS = [16_000, 25_000] as const;

export interface NemesisTargets {
  dir: string;
  home: string;
  tag: string;
  fleet: Fleet;
  enqueuers: readonly Enqueuer[];
  backend: Backend;
}

export class Nemesis {
  readonly injected: Partial<Record<Fault, number>> = {};
  /** Faults drawn when nothing was there to hit. */
  readonly missed: Partial<Record<Fault, number>> = {};
  private readonly stopped = new Set<number>();
  private readonly continues = new Set<NodeJS.Timeout>();
  private readonly stops = new Set<Promise<void>>();
  private running = false;
  private frozenUntil = 0;
  private readonly cut = new Set<Host>();
  private restarting: Promise<void> | null = null;
  private restartedAt = 0;
  private readonly faults: Readonly<Record<string, number>>;
  private done: Promise<void> = Promise.resolve();
  private readonly log: number;

  constructor(
    private readonly targets: NemesisTargets,
    private readonly random: Rng,
  ) {
    this.log = fs.openSync(path.join(targets.dir, 'nemesis.log'), 'a');
    this.faults = targets.backend.name === 'postgres' ? POSTGRES_FAULTS : FAULTS;
  }

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  /** No more faults; every stopped process is continued. */
  async heal(): Promise<void> {
    this.running = false;
    await this.done;
    for (const timer of this.continues) clearTimeout(timer);
    this.continues.clear();
    for (const pid of this.stopped) trySignal(pid, 'SIGCONT');
    this.stopped.clear();
    for (const host of this.cut) this.targets.backend.hosts?.restore(host);
    this.cut.clear();
    await this.restarting;
    // A `worker stop` still waiting for its supervisors to drain.
    await Promise.all(this.stops);
    fs.closeSync(this.log);
  }

  get total(): number {
    return Object.values(this.injected).reduce((sum, n) => sum + (n ?? 0), 0);
  }

  private async loop(): Promise<void> {
    // A first fault only once the queue is under way.
    await sleep(this.random.between(1500, 3000));
    while (this.running) {
      const fault = this.random.weighted(this.faults) as Fault;
      const target = await this.inject(fault);
      const count = target === null ? this.missed : this.injected;
      count[fault] = (count[fault] ?? 0) + 1;
      fs.writeSync(this.log, `${new Date().toISOString()} ${fault} ${target ?? '(no target)'}\n`);
      await sleep(this.random.between(400, 1800));
    }
  }

  /** Applies one fault; says what it hit, or null if there was nothing to hit. */
  private async inject(fault: Fault): Promise<string | null> {
    const { fleet } = this.targets;
    const supervisors = fleet.live();
    const supervisor = supervisors.length > 0 ? this.random.pick(supervisors) : null;
    const enqueues = this.enqueues();
    switch (fault) {
      case 'kill-worker':
      case 'stop-worker': {
        const workers = supervisor ? fleet.workersOf(supervisor) : [];
        if (workers.length === 0) return null;
        const worker = this.random.pick(workers);
        return fault === 'kill-worker' ? this.signal(worker, 'SIGKILL', 'worker') : this.pause(worker, 'worker');
      }
      case 'kill-supervisor':
        return supervisor ? this.signal(supervisor.pid, 'SIGKILL', 'supervisor') : null;
      case 'kill-group':
        return supervisor ? this.signal(-supervisor.pid, 'SIGKILL', 'supervisor group') : null;
      case 'stop-supervisor':
        return supervisor ? this.pause(supervisor.pid, 'supervisor') : null;
      case 'stop-past-lease':
        return supervisor ? this.pause(supervisor.pid, `supervisor on ${supervisor.host}`, PAST_LEASE_MS) : null;
      case 'cut-link': {
        const hosts = this.targets.backend.hosts?.hosts.filter((host) => !this.cut.has(host)) ?? [];
        if (hosts.length === 0) return null;
        const host = this.random.pick(hosts);
        // Mostly past the lease, so that the host's jobs are recovered elsewhere while it is away.
        const ms = this.random.chance(0.7) ? this.random.between(...PAST_LEASE_MS) : this.random.between(500, 8000);
        this.targets.backend.hosts!.cut(host);
        this.cut.add(host);
        this.later(ms, () => {
          this.targets.backend.hosts!.restore(host);
          this.cut.delete(host);
        });
        return `the link of ${host.name} for ${(ms / 1000).toFixed(1)} s`;
      }
      case 'restart-postgres': {
        // Every session is cut off: at most one every 20 s, so that the queue also makes progress.
        const server = this.targets.backend.server;
        if (!server || this.restarting || Date.now() < this.restartedAt + 20_000) return null;
        this.restartedAt = Date.now();
        this.restarting = server.restart('fast').finally(() => (this.restarting = null));
        return 'pg_ctl restart -m fast';
      }
      case 'kill-enqueue':
        return enqueues.length > 0 ? this.signal(this.random.pick(enqueues), 'SIGKILL', 'enqueue') : null;
      case 'stop-enqueue':
        return enqueues.length > 0 ? this.pause(this.random.pick(enqueues), 'enqueue') : null;
      case 'kill-job': {
        const groups = [...new Set(this.jobProcesses().map((info) => info.pgid))].sort((a, b) => a - b);
        return groups.length > 0 ? this.signal(-this.random.pick(groups), 'SIGKILL', 'job group') : null;
      }
      case 'delete-lock': {
        if (this.targets.backend.name !== 'file' || !(await this.lockHeld())) return null;
        fs.rmSync(path.join(this.targets.home, 'lock'), { recursive: true, force: true });
        return 'the lock directory (held)';
      }
      case 'freeze-lock-holder': {
        // Nobody can tell who holds the lock: stop every supervisor and enqueue while it is held,
        // past the stale limit, then continue them one by one in a seeded order, so that the
        // holder often wakes up after another process has taken its lock over.
        // It stalls the whole queue for seconds: at most one every 20 s.
        if (this.targets.backend.name !== 'file' || Date.now() < this.frozenUntil + 20_000 || !(await this.lockHeld())) return null;
        const pids = [...fleet.live().map((one) => one.pid), ...this.enqueues()];
        const ms = this.random.between(5500, 7000);
        this.frozenUntil = Date.now() + ms;
        for (const pid of pids) {
          trySignal(pid, 'SIGSTOP');
          this.stopped.add(pid);
        }
        const order = [...pids];
        for (let i = order.length - 1; i > 0; i--) {
          const j = this.random.int(0, i);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        let at = ms;
        for (const pid of order) {
          this.later(at, () => {
            trySignal(pid, 'SIGCONT');
            this.stopped.delete(pid);
          });
          at += this.random.between(100, 400);
        }
        return `SIGSTOP to ${pids.length} processes (${pids.join(', ')}) while the lock was held, continued after ${(ms / 1000).toFixed(1)} s in the order ${order.join(', ')}`;
      }
      case 'ctrl-c':
        return supervisor ? this.signal(-supervisor.pid, 'SIGINT', 'supervisor group') : null;
      case 'double-ctrl-c': {
        if (!supervisor) return null;
        this.signal(-supervisor.pid, 'SIGINT', 'supervisor group');
        this.later(this.random.between(50, 600), () => trySignal(-supervisor.pid, 'SIGINT'));
        return `supervisor group ${supervisor.pid} (twice)`;
      }
      case 'worker-stop': {
        if (supervisors.length === 0) return null;
        const child = spawn(process.execPath, [BIN, 'worker', 'stop', '--timeout', '20s'], { cwd: this.targets.dir, env: soakEnv(this.targets.backend, this.targets.tag), stdio: 'ignore' });
        const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
        this.stops.add(exited);
        void exited.then(() => this.stops.delete(exited));
        return `every supervisor (${supervisors.map((one) => one.pid).join(', ')})`;
      }
    }
  }

  private enqueues(): number[] {
    return this.targets.enqueuers.flatMap((one) => (one.current?.pid !== undefined && one.current.exitCode === null ? [one.current.pid] : []));
  }

  /** The lock is held for milliseconds at a time: waits up to a second for a holder. */
  private async lockHeld(): Promise<boolean> {
    const lock = path.join(this.targets.home, 'lock');
    for (let waited = 0; !fs.existsSync(lock); waited += 2) {
      if (waited > 1_000) return false;
      await sleep(2);
    }
    return true;
  }

  private jobProcesses() {
    return liveProcesses().filter((info) => {
      const env = environOf(info.pid);
      return env.get('SOAK_TAG') === this.targets.tag && env.has('QUEUECTL_JOB_ID');
    });
  }

  private signal(pid: number, signal: NodeJS.Signals, what: string): string {
    trySignal(pid, signal);
    return `${signal} to ${what} ${Math.abs(pid)}`;
  }

  /** SIGSTOP now, SIGCONT after 0.5 to 8 s (by default): past the 5 s stale limit about a third of the time. */
  private pause(pid: number, what: string, [min, max]: readonly [number, number] = [500, 8000]): string {
    const ms = this.random.between(min, max);
    trySignal(pid, 'SIGSTOP');
    this.stopped.add(pid);
    this.later(ms, () => {
      trySignal(pid, 'SIGCONT');
      this.stopped.delete(pid);
    });
    return `SIGSTOP to ${what} ${pid} for ${(ms / 1000).toFixed(1)} s`;
  }

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.continues.delete(timer);
      action();
    }, ms);
    this.continues.add(timer);
  }
}
