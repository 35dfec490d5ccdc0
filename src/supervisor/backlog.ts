/**
 * A supervisor's claimed jobs that wait for a worker, in start order: higher priority first, then
 * creation order. Whichever worker comes free takes the first, so no job waits behind a long run
 * while another worker starts a younger one. In jobs.json they are `processing` under worker 0
 * (see dispatch.ts), which tells other supervisors not to start anything behind them.
 */
import type { Config } from '../lifecycle/config.ts';
import type { Job } from '../lifecycle/job.ts';

export interface Waiting {
  /** The job as claimed. */
  job: Job;
  /** The settings of the turn that claimed it, for its run. */
  config: Config;
}

import type { Rank } from '../lifecycle/dispatch.ts';

const before = (a: Rank, b: Rank) => a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]);

export class Backlog {
  private items: (Waiting & { rank: Rank })[] = [];
  /** The first job in start order that waits at another supervisor, if any. */
  private bar: Rank | null = null;

  get length(): number {
    return this.items.length;
  }

  add(waiting: Waiting[]): void {
    this.items.push(...waiting.map((item) => ({ ...item, rank: [item.job.priority, Infinity] as Rank })));
  }

  /**
   * Puts the waiting jobs in start order as the store ranks them now, and notes `bar`, the first
   * job in start order that waits at another supervisor: nothing behind it may start here.
   */
  reorder(ranks: ReadonlyMap<string, Rank>, bar: Rank | null): void {
    for (const item of this.items) item.rank = ranks.get(item.job.id) ?? item.rank;
    this.bar = bar;
    this.items.sort((a, b) => (before(a.rank, b.rank) ? -1 : before(b.rank, a.rank) ? 1 : 0));
  }

  /** Whether the first waiting job must wait for one that waits at another supervisor. */
  blocked(): boolean {
    const first = this.items[0];
    return first !== undefined && this.bar !== null && !before(first.rank, this.bar);
  }

  /** The next job to start, unless it must wait. */
  next(): Waiting | undefined {
    return this.blocked() ? undefined : this.items.shift();
  }

  remove(id: string): Waiting | undefined {
    const index = this.items.findIndex((item) => item.job.id === id);
    return index < 0 ? undefined : this.items.splice(index, 1)[0];
  }

  /** Takes every waiting job out, to hand them back. */
  takeAll(): Waiting[] {
    return this.items.splice(0);
  }

  jobs(): Job[] {
    return this.items.map((item) => item.job);
  }
}
