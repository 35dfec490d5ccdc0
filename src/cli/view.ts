/** How jobs look to a person: relative times, one line per job. */
import { relativeTime } from '../lifecycle/duration.ts';
import { DEFAULT_QUEUE, runsOf, type Job } from '../lifecycle/job.ts';
import { clip, renderTable } from './table.ts';
import { waitingFor } from '../lifecycle/workflow.ts';

/** What a job is waiting for, or when it last changed; `all` holds its dependencies. */
export function jobWhen(job: Job, now: Date, all: ReadonlyMap<string, Job> = new Map()): string {
  const waiting = job.state === 'pending' || job.state === 'failed' ? waitingFor(job, all) : [];
  // A dependency that ended shows its state: no supervisor has ended this job yet.
  const label = (id: string) => (['dead', 'cancelled'].includes(all.get(id)?.state ?? '') ? `${id} (${all.get(id)?.state})` : id);
  if (waiting.length > 0) return `waiting for ${waiting.map(label).join(', ')}`;
  if ((job.state === 'pending' || job.state === 'failed') && Date.parse(job.run_at) > now.getTime()) {
    return `due ${relativeTime(job.run_at, now)}`;
  }
  if (job.state === 'processing' && job.started_at) return `started ${relativeTime(job.started_at, now)}`;
  return relativeTime(job.updated_at, now);
}

/** Latest change first; among jobs changed at the same moment, the newer job first. */
export function latestFirst(jobs: readonly Job[]): Job[] {
  return jobs
    .map((job, index) => ({ job, index }))
    .sort((a, b) => Date.parse(b.job.updated_at) - Date.parse(a.job.updated_at) || b.index - a.index)
    .map(({ job }) => job);
}

/** One line per job; `all` (every job) tells what waiting jobs wait for. A QUEUE column appears once a job is not in `default`. */
export function renderJobs(jobs: readonly Job[], now: Date, all: readonly Job[] = jobs): string {
  const byId = new Map(all.map((job) => [job.id, job]));
  const queues = jobs.some((job) => job.queue !== DEFAULT_QUEUE);
  const rows = jobs.map((job) => [
    job.id,
    job.state,
    ...(queues ? [job.queue] : []),
    runsOf(job),
    String(job.priority),
    jobWhen(job, now, byId),
    clip(job.command, 48),
    job.last_error ? clip(job.last_error, 60) : '',
  ]);
  return renderTable(['ID', 'STATE', ...(queues ? ['QUEUE'] : []), 'RUNS', 'PRIORITY', 'WHEN', 'COMMAND', 'LAST ERROR'], rows);
}
