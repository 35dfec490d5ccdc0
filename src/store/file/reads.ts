/**
 * The display reads over jobs.json (and the archive when finished jobs may be shown). The file is
 * read whole whatever is asked, so a command's reads share one parse of it: the parsed jobs are
 * kept while jobs.json, the archive and config.json are the same files, unchanged (replaced only
 * by rename, so a new inode, size or mtime tells a change). What follows is a pass in memory.
 */
import { currentIdentity } from './atomic.ts';
import { archiveFile } from './archive.ts';
import type { Home } from '../home.ts';
import { computeActivity, type Activity } from '../../lifecycle/activity.ts';
import { STATES, type Job, type State } from '../../lifecycle/job.ts';
import { byPriority, isDue } from '../../lifecycle/start-order.ts';
import type { JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { fullJob } from '../../lifecycle/jobfile/keys.ts';
import { waitingFor } from '../../lifecycle/workflow.ts';
import { mayBeArchived, type DependencyWaits, type JobCounts, type JobQuery, type NextJobs, type StoreReads } from '../reads.ts';

/** How the file store reaches its jobs: the live document, or every job with the archive's first. */
export interface JobSource {
  live(): Promise<JobsDocument>;
  all(): Promise<Job[]>;
}

interface Parsed {
  version: string;
  live?: Promise<JobsDocument>;
  all?: Promise<Job[]>;
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
  private parsed: Parsed = { version: '' };

  constructor(
    private readonly home: Home,
    private readonly source: JobSource,
  ) {}

  /** The files' identities now; reads made while they stay the same share what they parsed. */
  private current(): Parsed {
    const version = [this.home.jobs, archiveFile(this.home), this.home.config].map(currentIdentity).join('|');
    if (version !== this.parsed.version) this.parsed = { version };
    return this.parsed;
  }

  private live(): Promise<JobsDocument> {
    const parsed = this.current();
    // A failed read (a malformed file) is not kept: the next read reports it again.
    return (parsed.live ??= this.source.live().catch((error: unknown) => {
      parsed.live = undefined;
      throw error;
    }));
  }

  private all(): Promise<Job[]> {
    const parsed = this.current();
    return (parsed.all ??= this.source.all().catch((error: unknown) => {
      parsed.all = undefined;
      throw error;
    }));
  }

  private async selected(query: JobQuery): Promise<Job[]> {
    const jobs = mayBeArchived(query.states) ? await this.all() : (await this.live()).jobs;
    return selectJobs(jobs, query);
  }

  async countJobs(): Promise<JobCounts> {
    const { jobs, archived } = await this.live();
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
    return (await this.live()).jobs.filter((job) => job.state === 'processing');
  }

  async nextJobs(now: Date): Promise<NextJobs> {
    let start: Job | null = null;
    let soonest: Job | null = null;
    // One pass instead of a sort: the first due job of the highest priority is the first in run order.
    for (const job of (await this.live()).jobs) {
      if (!waitingJob(job)) continue;
      if (soonest === null || job.run_at < soonest.run_at) soonest = job;
      if ((start === null || job.priority > start.priority) && isDue(job, now)) start = job;
    }
    return { start, soonest };
  }

  async dependencyWaits(limit: number): Promise<DependencyWaits> {
    const { jobs } = await this.live();
    const byId = new Map(jobs.map((job) => [job.id, job]));
    const all = jobs
      .filter((job) => waitingJob(job) && job.after.length > 0)
      .map((job) => ({ job: job.id, waiting_for: waitingFor(job, byId) }))
      .filter((entry) => entry.waiting_for.length > 0);
    return { jobs: all.slice(0, limit), total: all.length };
  }

  async activity(now: Date): Promise<Activity> {
    return computeActivity((await this.live()).jobs, now);
  }

  async queueSettings() {
    const { queues, schedules } = await this.live();
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
    for (let at = 0; at < jobs.length; at += BATCH) each(jobs.slice(at, at + BATCH).map(fullJob));
  }
}
