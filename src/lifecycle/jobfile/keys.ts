/**
 * The fixed key order of everything in jobs.json, and the job's two forms: `Job`, every field
 * (in memory, and what `--json` prints), and `StoredJob`, what jobs.json and the archive hold
 * (the workflow fields left out at their defaults).
 */
import { DEFAULT_QUEUE, type Attempt, type Job, type Owner } from '../job.ts';
import type { Queues } from '../queue.ts';
import type { JobTemplate, Schedule } from '../schedule.ts';

const JOB_KEYS: (keyof Job)[] = [
  'id', 'command', 'state', 'attempts', 'max_retries', 'priority', 'queue', 'after', 'schedule', 'run_at', 'timeout', 'no_retry_on', 'backoff_max', 'backoff_jitter', 'cwd', 'env',
  'created_at', 'updated_at', 'started_at', 'finished_at', 'recoveries', 'last_error', 'owner', 'history',
];
const ATTEMPT_KEYS: (keyof Attempt)[] = ['started_at', 'finished_at', 'duration_ms', 'outcome', 'exit_code', 'signal', 'error', 'retry_at'];
const OWNER_KEYS: (keyof Owner)[] = ['pid', 'started', 'host', 'worker'];
const TEMPLATE_KEYS: (keyof JobTemplate)[] = ['command', 'cwd', 'max_retries', 'priority', 'queue', 'timeout', 'no_retry_on', 'env'];
const SCHEDULE_KEYS: (keyof Schedule)[] = ['name', 'cron', 'tz', 'job', 'created_at', 'last_fired_at', 'next_at'];

function pick<T>(value: T, keys: (keyof T)[]): T {
  return Object.fromEntries(keys.map((key) => [key, value[key]])) as T;
}

/** A job as jobs.json holds it: the workflow fields only where they differ from their defaults. */
export type StoredJob = Omit<Job, 'queue' | 'after' | 'schedule' | 'backoff_max' | 'backoff_jitter'> & Partial<Pick<Job, 'queue' | 'after' | 'schedule' | 'backoff_max' | 'backoff_jitter'>>;

/**
 * The job's stored form, keys in their fixed order. The workflow fields are left out while they
 * have their defaults (queue "default", no dependencies, no schedule): a job that uses none of
 * them has the same bytes as before they existed, so an older jobs.json stays byte for byte as it was.
 */
export function toStored(job: Job): StoredJob {
  const stored: StoredJob = {
    ...pick(job, JOB_KEYS),
    // Variables in name order: the same variables give the same bytes, however they were given.
    env: Object.fromEntries(Object.entries(job.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    owner: job.owner && pick(job.owner, OWNER_KEYS),
    history: job.history.map((entry) => pick(entry, ATTEMPT_KEYS)),
  };
  if (job.queue === DEFAULT_QUEUE) delete stored.queue;
  if (job.after.length === 0) delete stored.after;
  if (job.schedule === null) delete stored.schedule;
  if (job.backoff_max === null) delete stored.backoff_max;
  if (job.backoff_jitter === null) delete stored.backoff_jitter;
  return stored;
}

/** The whole job in the fixed key order, workflow fields included: what `--json` prints, so scripts always find every key. */
export function fullJob(job: Job): Job {
  return pick({ ...toStored(job), queue: job.queue, after: job.after, schedule: job.schedule, backoff_max: job.backoff_max, backoff_jitter: job.backoff_jitter } as Job, JOB_KEYS);
}

/** A job read back from its stored form (no key order kept, as in jsonb), with the left-out fields at their defaults. */
export function fromStored(stored: StoredJob): Job {
  return fullJob({ ...(stored as Job), queue: stored.queue ?? DEFAULT_QUEUE, after: stored.after ?? [], schedule: stored.schedule ?? null, backoff_max: stored.backoff_max ?? null, backoff_jitter: stored.backoff_jitter ?? null });
}

/**
 * `fromStored` for a job in the order queuectl writes it (its own jobs.json, parsed): the nested
 * objects are in order already, so only the top level is built, in one literal, which also gives
 * every job one hidden class.
 */
export function fromWritten(s: StoredJob): Job {
  return {
    id: s.id, command: s.command, state: s.state, attempts: s.attempts, max_retries: s.max_retries, priority: s.priority,
    queue: s.queue ?? DEFAULT_QUEUE, after: s.after ?? [], schedule: s.schedule ?? null,
    run_at: s.run_at, timeout: s.timeout, no_retry_on: s.no_retry_on, backoff_max: s.backoff_max ?? null, backoff_jitter: s.backoff_jitter ?? null, cwd: s.cwd, env: s.env,
    created_at: s.created_at, updated_at: s.updated_at, started_at: s.started_at, finished_at: s.finished_at,
    recoveries: s.recoveries, last_error: s.last_error, owner: s.owner, history: s.history,
  };
}

export function orderedQueues(queues: Queues): Queues {
  const names = Object.keys(queues).sort();
  return Object.fromEntries(names.map((name) => [name, { parallel: queues[name]!.parallel, paused: queues[name]!.paused }]));
}

export function orderedSchedule(entry: Schedule): Schedule {
  return { ...pick(entry, SCHEDULE_KEYS), job: pick(entry.job, TEMPLATE_KEYS) };
}
