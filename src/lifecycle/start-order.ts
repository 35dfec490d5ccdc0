/**
 * Start order: which jobs are due, in what order they start, and which a supervisor picks next.
 */
import type { Job } from './job.ts';

export function isDue(job: Job, now: Date): boolean {
  return (job.state === 'pending' || job.state === 'failed') && Date.parse(job.run_at) <= now.getTime();
}

/** Higher priority first, then creation order (the order of the array). */
export function byPriority(jobs: readonly Job[]): Job[] {
  return jobs
    .map((job, index) => ({ job, index }))
    .sort((a, b) => b.job.priority - a.job.priority || a.index - b.index)
    .map(({ job }) => job);
}

/**
 * Which of the due jobs, in start order, may start now, given every job: it may only remove jobs
 * (a paused queue, a full queue, a dependency not yet completed), never reorder them.
 */
export type Admit = (ordered: readonly Job[], jobs: readonly Job[]) => Job[];

const admitAll: Admit = (ordered) => [...ordered];

export interface Pick {
  /** Claimed elsewhere and not started yet: it keeps its place, and nothing starts behind it. */
  held?: (job: Job) => boolean;
  admit?: Admit;
}

/**
 * The jobs a supervisor should start next, at most `limit` of them: the admitted due jobs in
 * start order, up to the first one that is held (waiting to start elsewhere).
 */
export function pickDue(jobs: readonly Job[], now: Date, limit: number, { held = () => false, admit = admitAll }: Pick = {}): Job[] {
  if (limit <= 0) return [];
  const ordered = byPriority(jobs.filter((job) => isDue(job, now) || held(job)));
  const admitted = new Set(admit(ordered.filter((job) => !held(job)), jobs));
  const picked: Job[] = [];
  for (const job of ordered) {
    if (picked.length >= limit || held(job)) break;
    if (admitted.has(job)) picked.push(job);
  }
  return picked;
}

/** The earliest time a waiting job becomes due, if any is waiting. */
export function nextDueTime(jobs: readonly Job[]): number | null {
  let next: number | null = null;
  for (const job of jobs) {
    if (job.state !== 'pending' && job.state !== 'failed') continue;
    const at = Date.parse(job.run_at);
    if (next === null || at < next) next = at;
  }
  return next;
}
