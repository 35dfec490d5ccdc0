/**
 * The soak's supervisors: a fixed number of slots, each running `queuectl worker start` in a
 * process group of its own (as from its own terminal), restarted after a seeded delay whenever
 * it exits, however it exits. Each incarnation logs to a file of its own. With the postgres
 * backend each slot is a simulated host of its own (see backend.ts).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cmdlineOf, childrenOf, isAlive, trySignal } from '../support/supervisor-proc.ts';
import { soakEnv, type Backend } from './backend.ts';
import type { Rng } from './prng.ts';

export interface Incarnation {
  slot: number;
  pid: number;
  child: ChildProcess;
  exited: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  log: string;
  /** The simulated host it runs on, if any. */
  host: string | null;
}

export class Fleet {
  private readonly slots: (Incarnation | null)[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private incarnations = 0;
  readonly all: Incarnation[] = [];
  /** While frozen (healing, stopping), an exit is not followed by a restart. */
  private frozen = false;

  constructor(
    private readonly dir: string,
    private readonly tag: string,
    private readonly workers: number,
    count: number,
    private readonly random: Rng,
    private readonly backend: Backend,
  ) {
    this.slots = Array.from({ length: count }, () => null);
  }

  start(): void {
    for (let slot = 0; slot < this.slots.length; slot++) this.launch(slot);
  }

  /** Running supervisors (their pid is also their process group). */
  live(): Incarnation[] {
    return this.slots.filter((one): one is Incarnation => one !== null && !one.exited);
  }

  /** The cluster workers of a supervisor. */
  workersOf(one: Incarnation): number[] {
    return childrenOf(one.pid).filter((pid) => cmdlineOf(pid).includes('worker-main.js'));
  }

  private launch(slot: number): void {
    const log = path.join(this.dir, 'logs', `supervisor-${slot + 1}-${++this.incarnations}.log`);
    fs.mkdirSync(path.dirname(log), { recursive: true });
    const fd = fs.openSync(log, 'a');
    const child = this.backend.launch(slot, ['worker', 'start', '--count', String(this.workers)], {
      cwd: this.dir,
      env: soakEnv(this.backend, this.tag),
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    if (child.pid === undefined) throw new Error('could not start queuectl worker start');
    const one: Incarnation = { slot, pid: child.pid, child, exited: false, exit: null, log, host: this.backend.hostOf(slot)?.name ?? null };
    this.slots[slot] = one;
    this.all.push(one);
    child.on('exit', (code, signal) => {
      one.exited = true;
      one.exit = { code, signal };
      if (this.frozen || this.slots[slot] !== one) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.frozen && this.slots[slot] === one) this.launch(slot);
      }, this.random.between(200, 1500));
      this.timers.add(timer);
    });
  }

  /** From now on a slot is not restarted after a delay: this brings every slot that is down back at once; call it again to keep them up. */
  heal(): void {
    this.frozen = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (let slot = 0; slot < this.slots.length; slot++) {
      const one = this.slots[slot];
      if (!one || one.exited) this.launch(slot);
    }
  }

  /** Resolves once every supervisor ever started has exited, or false after `ms`. */
  async exited(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (this.all.every((one) => one.exited)) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  /**
   * A supervisor that exited 74 before it started (its log has no "started with" line): its
   * host could not reach the database, as when the nemesis has cut the link. `worker start`
   * refuses to start then, with a message; the fleet starts it again later.
   */
  private refused(one: Incarnation): boolean {
    return one.exit?.code === 74 && !fs.readFileSync(one.log, 'utf8').includes(' started with ');
  }

  /**
   * Supervisors that ended other than by a signal, a drain (exit 0) or a refusal to start: a
   * crash, which the nemesis never causes by itself. Each with the last lines of its log.
   */
  crashes(): string[] {
    return this.all
      .filter((one) => one.exit !== null && one.exit.signal === null && one.exit.code !== 0 && !this.refused(one))
      .map((one) => {
        const tail = fs.readFileSync(one.log, 'utf8').trim().split('\n').slice(-6).join('\n    ');
        return `supervisor ${one.pid} exited with status ${one.exit?.code} (log ${path.basename(one.log)}):\n    ${tail}`;
      });
  }

  /** How the supervisors ended, e.g. { 'SIGKILL': 9, 'exit 0': 12, 'refused to start (exit 74)': 3 }. */
  exits(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const one of this.all) {
      const how = one.exit === null ? 'running' : this.refused(one) ? 'refused to start (exit 74)' : one.exit.signal ?? `exit ${one.exit.code}`;
      counts[how] = (counts[how] ?? 0) + 1;
    }
    return counts;
  }

  /** SIGKILLs every supervisor group still alive. */
  killAll(): void {
    this.frozen = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const one of this.all) if (!one.exited || isAlive(one.pid)) trySignal(-one.pid, 'SIGKILL');
  }
}
