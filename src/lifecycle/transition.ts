/**
 * The job lifecycle's transitions as pure, synchronous functions. Time is always a parameter, so
 * every transition can be tested with a fixed clock; nothing here touches files or processes.
 */
import { retryGapMs, type Backoff } from './backoff.ts';
import { QueueError } from './error.ts';
import { isFinished, MAX_RECOVERIES, type Attempt, type Interruption, type Job, type Outcome, type Owner, type RunResult } from './job.ts';

export function backoffSeconds(base: number, attempts: number): number {
  return base ** attempts;
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
