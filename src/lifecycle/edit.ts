/**
 * `edit`: changing a job that has not started yet. Pure: the operation in src/operations/edit.ts
 * applies it inside one transaction, so a claim sees the job either as it was or as edited.
 */
import { invalid, QueueError } from './error.ts';
import type { Job } from './job.ts';

/** The states a job can be edited in: waiting for its first run, or for its next one after a failure. */
export const EDITABLE_STATES: readonly Job['state'][] = ['pending', 'failed'];

/** The fields `edit` may change: what was given at enqueue, never its id, state or history. */
export const EDITABLE_FIELDS = ['command', 'priority', 'run_at', 'queue', 'after', 'env', 'timeout', 'max_retries', 'no_retry_on', 'backoff_max', 'backoff_jitter'] as const;
export type EditableField = (typeof EDITABLE_FIELDS)[number];
export type JobChanges = Partial<Pick<Job, EditableField>>;

function refuseState(job: Job): never {
  const what: Record<string, string> = {
    processing: 'it is running now; wait for it to finish (queuectl wait), or cancel it and enqueue it again as it should be',
    completed: 'it has finished; enqueue a new job, or restart it and edit it before it starts',
    dead: 'it has finished (in the DLQ); dlq retry or restart it, then edit it before it starts',
    cancelled: 'it has finished; restart it, then edit it before it starts',
  };
  throw new QueueError('conflict', `job "${job.id}" is ${job.state}: only a pending job or a failed one waiting for its retry can be edited; ${what[job.state] ?? 'it cannot be edited'}`);
}

/**
 * The job with `changes` applied: its id, runs so far and history stay; `updated_at` moves. A
 * job that has had runs must keep at least one run to come, or the edit would end it unseen.
 */
export function editJob(job: Job, changes: JobChanges, now: Date): Job {
  if (!EDITABLE_STATES.includes(job.state)) refuseState(job);
  if (changes.max_retries !== undefined && job.attempts > 0 && changes.max_retries <= job.attempts) {
    throw invalid(`job "${job.id}" has had ${job.attempts} run${job.attempts === 1 ? '' : 's'}: --max-retries counts runs, so give at least ${job.attempts + 1} for it to run again`);
  }
  return { ...job, ...changes, updated_at: now.toISOString() };
}

/**
 * A cycle that waiting for `after` would close through the jobs that wait themselves (pending or
 * failed): `job → a → … → job`, or null. Jobs that started or finished wait for nothing any more.
 */
export function cycleThrough(id: string, after: readonly string[], jobs: readonly Job[]): string[] | null {
  const waiting = new Map(jobs.filter((job) => EDITABLE_STATES.includes(job.state)).map((job) => [job.id, job.after]));
  const seen = new Set<string>();
  const visit = (at: string, path: string[]): string[] | null => {
    if (at === id) return [id, ...path, id];
    if (seen.has(at)) return null;
    seen.add(at);
    for (const next of waiting.get(at) ?? []) {
      const found = visit(next, [...path, at]);
      if (found) return found;
    }
    return null;
  };
  for (const first of after) {
    const found = visit(first, []);
    if (found) return found;
  }
  return null;
}
