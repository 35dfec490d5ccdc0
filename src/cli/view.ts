/** How jobs look to a person: relative times, one line per job. */
import { relativeTime } from '../lifecycle/duration.ts';
import { DEFAULT_QUEUE, runsOf, type Job } from '../lifecycle/job.ts';
import { clip, renderTable } from './table.ts';
import { waitingFor } from '../lifecycle/workflow.ts';

/** A job's "when": what it waits for, or a time and how it reads; `at` is that time (null for a wait on dependencies). */
export interface When {
  text: string;
  at: string | null;
}

/** What a job is waiting for, or when it last changed; `dependencies` holds the jobs it depends on. */
export function whenOf(job: Job, now: Date, dependencies: ReadonlyMap<string, Job> = new Map()): When {
  const waiting = job.state === 'pending' || job.state === 'failed' ? waitingFor(job, dependencies) : [];
  // A dependency that ended shows its state: no supervisor has ended this job yet.
  const label = (id: string) => (['dead', 'cancelled'].includes(dependencies.get(id)?.state ?? '') ? `${id} (${dependencies.get(id)?.state})` : id);
  if (waiting.length > 0) return { text: `waiting for ${waiting.map(label).join(', ')}`, at: null };
  if ((job.state === 'pending' || job.state === 'failed') && Date.parse(job.run_at) > now.getTime()) {
    return { text: `due ${relativeTime(job.run_at, now)}`, at: job.run_at };
  }
  if (job.state === 'processing' && job.started_at) return { text: `started ${relativeTime(job.started_at, now)}`, at: job.started_at };
  return { text: relativeTime(job.updated_at, now), at: job.updated_at };
}

export function jobWhen(job: Job, now: Date, dependencies: ReadonlyMap<string, Job> = new Map()): string {
  return whenOf(job, now, dependencies).text;
}

/** One line per job; `dependencies` (by id) tells what waiting jobs wait for. A QUEUE column appears once a job is not in `default`. */
export function renderJobs(jobs: readonly Job[], now: Date, dependencies: ReadonlyMap<string, Job> = new Map(jobs.map((job) => [job.id, job]))): string {
  const queues = jobs.some((job) => job.queue !== DEFAULT_QUEUE);
  const rows = jobs.map((job) => [
    job.id,
    job.state,
    ...(queues ? [job.queue] : []),
    runsOf(job),
    String(job.priority),
    jobWhen(job, now, dependencies),
    clip(job.command, 48),
    job.last_error ? clip(job.last_error, 60) : '',
  ]);
  return renderTable(['ID', 'STATE', ...(queues ? ['QUEUE'] : []), 'RUNS', 'PRIORITY', 'WHEN', 'COMMAND', 'LAST ERROR'], rows);
}
