/**
 * The store's reads for display: what `status`, `list`, `dlq list` and the dashboard show, each
 * asked for as such, so that a store answers with aggregates and pages (SQL on PostgreSQL) instead
 * of handing every job to the caller. Reads take no lock: each is one snapshot of the store.
 */
import type { Activity } from '../lifecycle/activity.ts';
import type { Job, State } from '../lifecycle/job.ts';
import type { Queues } from '../lifecycle/queue.ts';
import type { Schedule } from '../lifecycle/schedule.ts';

/** Jobs counted by the store, never listed. */
export interface JobCounts {
  /** Per state, archived jobs included (those are completed or cancelled). */
  states: Record<State, number>;
  /** Per queue that a live job is in, per state, live jobs only. */
  queues: Record<string, Record<State, number>>;
}

/**
 * The order of a list. `created`: creation order (archived jobs, being older, first); `run`: the
 * order jobs would start in, higher priority first, then creation order; `recent`: the latest
 * change (`updated_at`) first, and among changes at the same moment the newer job; `newest`: the
 * latest created first.
 */
export type JobOrder = 'created' | 'run' | 'recent' | 'newest';

/** Which jobs a list holds. */
export interface JobQuery {
  /** Only these states; undefined: every state. */
  states?: readonly State[];
  queue?: string;
  /** Only jobs whose id or command contains this, ignoring case. */
  text?: string;
  order: JobOrder;
}

/** The jobs waiting for dependencies that have not completed yet, as many as asked for, and how many there are. */
export interface DependencyWaits {
  jobs: { job: string; waiting_for: string[] }[];
  total: number;
}

/** The waiting jobs that come first: the next to start among the due ones, and the one due soonest. */
export interface NextJobs {
  /** Due now (run_at passed), first in run order; null when none is due. */
  start: Job | null;
  /** The earliest run_at of a waiting (pending or failed) job. */
  soonest: Job | null;
}

/** Archived jobs are completed or cancelled: a list looks at them only when those may be in it (every state: undefined). */
export function mayBeArchived(states: readonly State[] | undefined): boolean {
  return !states || states.includes('completed') || states.includes('cancelled');
}

export interface StoreReads {
  /** How many jobs there are per state and per queue: an aggregate, not rows. */
  countJobs(): Promise<JobCounts>;
  /** The live processing jobs: bounded by the workers running them (and the claims lost with their supervisors). */
  processingJobs(): Promise<Job[]>;
  /** The first waiting jobs (see NextJobs) at `now`. */
  nextJobs(now: Date): Promise<NextJobs>;
  /** The pending or failed jobs whose dependencies have not all completed: the first `limit` in creation order, and the count. */
  dependencyWaits(limit: number): Promise<DependencyWaits>;
  /** Throughput and durations over the attempts of live jobs that finished within the last hour before `now`. */
  activity(now: Date): Promise<Activity>;
  /** The queue settings and the schedules. */
  queueSettings(): Promise<{ queues: Queues; schedules: Schedule[] }>;
  /** The jobs `query` selects, in its order, `offset` skipped and at most `limit` of them. */
  pageJobs(query: JobQuery, page: { offset: number; limit?: number }): Promise<Job[]>;
  /** How many jobs `query` selects. */
  countMatching(query: JobQuery): Promise<number>;
  /**
   * The jobs `query` selects (at most `limit`), handed to `each` a batch at a time in order and
   * whole, in the shape `--json` prints (`fullJob`), so a long list is written out as it is read,
   * never held whole. One consistent snapshot.
   */
  streamJobs(query: JobQuery, limit: number | undefined, each: (jobs: readonly Job[]) => void): Promise<void>;
}
