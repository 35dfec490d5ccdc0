/**
 * The display reads over jobs.json (and the archive when finished jobs may be shown). The file is
 * read whole whatever is asked, so each read costs one parse of jobs.json (none while this process
 * remembers it unchanged); what follows is a pass over the jobs in memory.
 */
import { computeActivity, type Activity } from '../../lifecycle/activity.ts';
import { byPriority, isDue, STATES, type Job, type State } from '../../lifecycle/job.ts';
import type { JobsDocument } from '../../lifecycle/jobfile.ts';
import { waitingFor } from '../../lifecycle/workflow.ts';
import { mayBeArchived, type DependencyWaits, type JobCounts, type JobQuery, type NextJobs, type StoreReads } from '../reads.ts';

/** How the file store reaches its jobs: the live document, or every job with the archive's first. */
export interface JobSource {
  live(): Promise<JobsDocument>;
  all(): Promise<Job[]>;
}

/** How many jobs `streamJobs` hands over at a time. */
const BATCH = 500;

const zero = (): Record<State, number> => Object.fromEntries(STATES.map((state) => [state, 0])) as Record<State, number>;

const waitingJob = (job: Job) => job.state === 'pending' || job.state === 'failed';

/** Latest change first; among jobs changed at the same moment, the newer job first. */
export function latestFirst(jobs: readonly Job[]): Job[] {
  return jobs
    .map((job, index) => ({ job, index, at: Date.parse(job.updated_at) }))
    .sort((a, b) => b.at - a.at || b.index - a.index)
    .map(({ job }) => job);
}

/** The jobs `query` selects from `jobs` (in creation order), in the query's order. */
export function selectJobs(jobs: readonly Job[], query: JobQuery): Job[] {
  const needle = query.text?.toLowerCase() ?? '';
  const matching = jobs.filter(
    (job) =>
      (!query.states || query.states.includes(job.state)) &&
      (!query.queue || job.queue === query.queue) &&
      (needle === '' || job.id.toLowerCase().includes(needle) || job.command.toLowerCase().includes(needle)),
  );
  if (query.order === 'recent') return latestFirst(matching);
  if (query.order === 'newest') return matching.reverse();
  return query.order === 'run' ? byPriority(matching) : matching;
}

export class FileReads implements StoreReads {
  constructor(private readonly source: JobSource) {}

  private async selected(query: JobQuery): Promise<Job[]> {
    const jobs = mayBeArchived(query.states) ? await this.source.all() : (await this.source.live()).jobs;
    return selectJobs(jobs, query);
  }

  async countJobs(): Promise<JobCounts> {
    const { jobs, archived } = await this.source.live();
    const states = zero();
    const queues: JobCounts['queues'] = {};
    for (const job of jobs) {
      states[job.state]++;
      (queues[job.queue] ??= zero())[job.state]++;
    }
    states.completed += archived?.completed ?? 0;
    states.cancelled += archived?.cancelled ?? 0;
    return { states, queues };
  }

  async processingJobs(): Promise<Job[]> {
    return (await this.source.live()).jobs.filter((job) => job.state === 'processing');
  }

  async nextJobs(now: Date): Promise<NextJobs> {
    const waiting = (await this.source.live()).jobs.filter(waitingJob);
    const start = byPriority(waiting.filter((job) => isDue(job, now)))[0] ?? null;
    const soonest = waiting.reduce<Job | null>((best, job) => (best === null || job.run_at < best.run_at ? job : best), null);
    return { start, soonest };
  }

  async dependencyWaits(limit: number): Promise<DependencyWaits> {
    const { jobs } = await this.source.live();
    const byId = new Map(jobs.map((job) => [job.id, job]));
    const all = jobs
      .filter((job) => waitingJob(job) && job.after.length > 0)
      .map((job) => ({ job: job.id, waiting_for: waitingFor(job, byId) }))
      .filter((entry) => entry.waiting_for.length > 0);
    return { jobs: all.slice(0, limit), total: all.length };
  }

  async activity(now: Date): Promise<Activity> {
    return computeActivity((await this.source.live()).jobs, now);
  }

  async queueSettings() {
    const { queues, schedules } = await this.source.live();
    return { queues: queues ?? {}, schedules: schedules ?? [] };
  }

  async pageJobs(query: JobQuery, { offset, limit }: { offset: number; limit?: number }): Promise<Job[]> {
    const jobs = await this.selected(query);
    return jobs.slice(offset, limit === undefined ? undefined : offset + limit);
  }

  async countMatching(query: JobQuery): Promise<number> {
    return (await this.selected(query)).length;
  }

  async streamJobs(query: JobQuery, limit: number | undefined, each: (jobs: readonly Job[]) => void): Promise<void> {
    const jobs = (await this.selected(query)).slice(0, limit);
    for (let at = 0; at < jobs.length; at += BATCH) each(jobs.slice(at, at + BATCH));
  }
}
