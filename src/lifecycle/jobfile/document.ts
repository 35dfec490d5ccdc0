/** The shape of `jobs.json` as a whole: a version, the archive's totals, queue settings, schedules and the live jobs. */
import type { Job } from '../job.ts';
import type { Queues } from '../queue.ts';
import type { Schedule } from '../schedule.ts';

export const FORMAT_VERSION = 1;

/** How many finished jobs have moved to the archive, by state: `status` counts them without reading it. */
export interface Archived {
  completed: number;
  cancelled: number;
}

export const NOTHING_ARCHIVED: Archived = { completed: 0, cancelled: 0 };

export interface JobsDocument {
  version: number;
  /** Absent until something has been archived. */
  archived?: Archived;
  /** Queue settings (limits, pauses); absent while no queue has any. */
  queues?: Queues;
  /** Recurring jobs; absent while there are none. */
  schedules?: Schedule[];
  jobs: Job[];
}

export const emptyJobs = (): JobsDocument => ({ version: FORMAT_VERSION, jobs: [] });

/** What a hand-added job may leave out. */
export interface JobDefaults {
  now: Date;
  max_retries: number;
  cwd: string;
}
