/**
 * The job lifecycle as pure, synchronous functions. Time is always a parameter, so every
 * transition can be tested with a fixed clock; nothing here touches files or processes.
 */
import { retryGapMs, type Backoff } from './backoff.ts';
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

export function backoffSeconds(base: number, attempts: number): number {
  return base ** attempts;
}

export function isFinished(job: Job): boolean {
  return FINISHED_STATES.includes(job.state);
}

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

export function claimJob(job: Job, owner: Owner, now: Date): Job {
  const at = now.toISOString();
  return { ...job, state: 'processing', owner, started_at: at, finished_at: null, updated_at: at };
}

export function describeResult(result: RunResult, timeout: string | null): string | null {
  if (result.error) return result.error;
  if (result.timed_out) return `timed out after ${timeout ?? 'its timeout'}`;
  const tail = result.stderr_tail ? `: ${result.stderr_tail}` : '';
  if (result.signal) return `killed by signal ${result.signal}${tail}`;
  if (result.exit_code !== 0) return `exit code ${result.exit_code}${tail}`;
  return null;
}

function attemptOf(result: RunResult, outcome: Outcome, error: string | null, retryAt: string | null): Attempt {
  return {
    started_at: result.started_at,
    finished_at: result.finished_at,
    duration_ms: Math.max(0, Date.parse(result.finished_at) - Date.parse(result.started_at)),
    outcome,
    exit_code: result.exit_code,
    signal: result.signal,
    error,
    retry_at: retryAt,
  };
}

/**
 * Records a finished run: success completes the job; a failure schedules a retry after
 * `backoff_base ^ attempts` seconds (capped and spread as `backoff.ts` says), or makes the job dead once it has had its `max_retries`
 * runs, the exit code is one that must not be retried, or the run could never happen.
 */
export function finishJob(job: Job, result: RunResult, backoff: number | Backoff, now: Date): Job {
  const at = now.toISOString();
  const attempts = job.attempts + 1;
  const error = describeResult(result, job.timeout);
  const base = { ...job, attempts, owner: null, finished_at: result.finished_at, updated_at: at };
  if (error === null) {
    return { ...base, state: 'completed', last_error: null, history: [...job.history, attemptOf(result, 'completed', null, null)] };
  }
  const outcome: Outcome = result.timed_out ? 'timed-out' : 'failed';
  const noRetry = result.exit_code !== null && job.no_retry_on.includes(result.exit_code);
  if (noRetry || result.permanent || attempts >= job.max_retries) {
    const reason = noRetry ? `${error} (exit code ${result.exit_code} is never retried)` : result.permanent ? `${error} (never retried)` : error;
    return { ...base, state: 'dead', last_error: reason, history: [...job.history, attemptOf(result, outcome, error, null)] };
  }
  // A bare base is today's exact gap: no cap, no spread (unless the job has its own).
  const policy = typeof backoff === 'number' ? { base: backoff, max: null, jitter: 0, random: () => 0 } : backoff;
  const retryAt = new Date(now.getTime() + retryGapMs(job, attempts, policy)).toISOString();
  return {
    ...base,
    state: 'failed',
    run_at: retryAt,
    last_error: error,
    history: [...job.history, attemptOf(result, outcome, error, retryAt)],
  };
}

/** The history entry of a run that was cut short: not a finished attempt. */
function interruptedRun(job: Job, reason: string, now: Date): Attempt {
  const at = now.toISOString();
  return {
    started_at: job.started_at ?? at,
    finished_at: at,
    duration_ms: job.started_at ? Math.max(0, now.getTime() - Date.parse(job.started_at)) : 0,
    outcome: 'interrupted',
    exit_code: null,
    signal: null,
    error: reason,
    retry_at: null,
  };
}

/**
 * Puts a job whose run was cut short back to pending without spending an attempt; history records
 * the interruption either way. Only a crash counts in `recoveries`, so a job that keeps killing
 * its worker ends in the DLQ instead of looping forever, while forced stops never make a job dead.
 */
export function recoverJob(job: Job, reason: string, now: Date, cause: Interruption): Job {
  const at = now.toISOString();
  const recoveries = job.recoveries + (cause === 'crash' ? 1 : 0);
  const base = { ...job, owner: null, recoveries, finished_at: at, updated_at: at, history: [...job.history, interruptedRun(job, reason, now)] };
  if (cause === 'crash' && recoveries >= MAX_RECOVERIES) {
    return { ...base, state: 'dead', last_error: `interrupted ${recoveries} times by a crash, last: ${reason}` };
  }
  return { ...base, state: 'pending', run_at: at, last_error: reason };
}

/** Hands back a claim that never started (its worker went away before the job was sent). */
export function releaseJob(job: Job, now: Date): Job {
  return { ...job, state: 'pending', owner: null, started_at: null, updated_at: now.toISOString() };
}

/**
 * `restart` and `dlq retry`: a finished job (completed, dead or cancelled) goes back to pending,
 * due now, with a fresh set of runs; its history and last error stay.
 */
export function restartJob(job: Job, now: Date): Job {
  if (!isFinished(job)) {
    throw new QueueError('conflict', `job "${job.id}" is ${job.state}, not finished; only completed, dead or cancelled jobs can be restarted`);
  }
  const at = now.toISOString();
  return { ...job, state: 'pending', attempts: 0, recoveries: 0, run_at: at, owner: null, started_at: null, finished_at: null, updated_at: at };
}

/** A running job's cancelled run stays in its history, as the log keeps its output. */
export function cancelJob(job: Job, now: Date): Job {
  const at = now.toISOString();
  const history = job.state === 'processing' ? [...job.history, interruptedRun(job, 'cancelled', now)] : job.history;
  return { ...job, state: 'cancelled', owner: null, finished_at: at, updated_at: at, last_error: job.last_error, history };
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
