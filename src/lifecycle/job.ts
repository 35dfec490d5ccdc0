/**
 * A job: its shape as stored (states, attempts, history), its creation, and the lookups on jobs
 * that every part of queuectl shares. Pure and synchronous, like the rest of the lifecycle.
 */
import { QueueError } from './error.ts';

export const STATES = ['pending', 'processing', 'completed', 'failed', 'dead', 'cancelled'] as const;
export type State = (typeof STATES)[number];

export const FINISHED_STATES: readonly State[] = ['completed', 'dead', 'cancelled'];

/** A crash interrupting the same job this many times makes it dead: a poison pill. */
export const MAX_RECOVERIES = 3;

/**
 * What cut a run short. A crash (its worker or supervisor died) may be the job's own doing, so it
 * counts towards MAX_RECOVERIES; a forced stop (`worker stop --force`, a second signal) is the
 * user's, and does not.
 */
export type Interruption = 'crash' | 'forced';

/** Which supervisor and worker hold a processing job; `started` tells a reused pid apart. */
export interface Owner {
  pid: number;
  started: string;
  host: string;
  worker: number;
}

export const OUTCOMES = ['completed', 'failed', 'timed-out', 'interrupted'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface Attempt {
  started_at: string;
  finished_at: string;
  duration_ms: number;
  outcome: Outcome;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  retry_at: string | null;
}

export interface Job {
  id: string;
  command: string;
  state: State;
  attempts: number;
  max_retries: number;
  priority: number;
  /** The queue it runs in (`--queue`); absent in files: `default`. */
  queue: string;
  /** Ids of the jobs that must complete before this one starts (`--after`); absent in files: `[]`. */
  after: string[];
  /** The schedule whose firing enqueued it; absent in files: null. */
  schedule: string | null;
  run_at: string;
  timeout: string | null;
  no_retry_on: number[];
  /** The job's own cap on a retry gap (`--backoff-max`) and its spread (`--backoff-jitter`); null: the settings'. */
  backoff_max: string | null;
  backoff_jitter: number | null;
  cwd: string;
  /** Environment variables set for this job's runs only (`--env`); absent in old files: `{}`. */
  env: Record<string, string>;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  recoveries: number;
  last_error: string | null;
  owner: Owner | null;
  history: Attempt[];
}

/** How one run of a command ended, as the worker saw it. */
export interface RunResult {
  started_at: string;
  finished_at: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  /** The last line the command wrote to stderr, if any. */
  stderr_tail: string | null;
  /** Why the command could not run at all (e.g. its directory is gone). */
  error?: string | null;
  /** The run could not happen and waiting will not change that (its directory is gone): no retry. */
  permanent?: boolean;
}

export interface NewJob {
  id: string;
  command: string;
  cwd: string;
  max_retries: number;
  priority: number;
  run_at: Date;
  timeout: string | null;
  no_retry_on: number[];
  backoff_max?: string | null;
  backoff_jitter?: number | null;
  env?: Record<string, string>;
  queue?: string;
  after?: string[];
  schedule?: string | null;
}

/** The queue of a job enqueued without `--queue`. */
export const DEFAULT_QUEUE = 'default';

export function createJob(spec: NewJob, now: Date): Job {
  const at = now.toISOString();
  return {
    id: spec.id,
    command: spec.command,
    state: 'pending',
    attempts: 0,
    max_retries: spec.max_retries,
    priority: spec.priority,
    queue: spec.queue ?? DEFAULT_QUEUE,
    after: spec.after ?? [],
    schedule: spec.schedule ?? null,
    run_at: spec.run_at.toISOString(),
    timeout: spec.timeout,
    no_retry_on: spec.no_retry_on,
    backoff_max: spec.backoff_max ?? null,
    backoff_jitter: spec.backoff_jitter ?? null,
    cwd: spec.cwd,
    env: spec.env ?? {},
    created_at: at,
    updated_at: at,
    started_at: null,
    finished_at: null,
    recoveries: 0,
    last_error: null,
    owner: null,
    history: [],
  };
}

export function isFinished(job: Job): boolean {
  return FINISHED_STATES.includes(job.state);
}

/** The job with this id; `older` (archived jobs) is looked through only if `jobs` has none. */
export function findJob(jobs: readonly Job[], id: string, older: readonly Job[] = []): Job {
  const job = jobs.find((candidate) => candidate.id === id) ?? older.findLast((candidate) => candidate.id === id);
  if (!job) throw new QueueError('not-found', `no job with id "${id}"; see queuectl list`);
  return job;
}

/** Finished jobs in `states` that finished at or before `cutoff`: what `clean` and `dlq purge` remove. */
export function expiredJobs(jobs: readonly Job[], states: readonly State[], cutoff: number): Job[] {
  return jobs.filter((job) => states.includes(job.state) && Date.parse(job.finished_at ?? job.updated_at) <= cutoff);
}

/** `jobs` with `added` put in at their places by creation time (jobs are kept in creation order). */
export function placeByCreation(jobs: readonly Job[], added: readonly Job[]): Job[] {
  const placed = [...jobs];
  for (const job of added) {
    const after = placed.findIndex((other) => other.created_at > job.created_at);
    placed.splice(after === -1 ? placed.length : after, 0, job);
  }
  return placed;
}

/** How many runs a job gets: max_retries, and one for a hand-made job with 0. */
export function runAllowance(job: Job): number {
  return Math.max(1, job.max_retries);
}

/** Runs had out of runs allowed: `max_retries` counts runs, so "2/3" is two runs of three. */
export function runsOf(job: Job): string {
  // A hand-made job with max_retries 0 still gets one run (finishJob); never show "1/0".
  return `${job.attempts}/${runAllowance(job)}`;
}
