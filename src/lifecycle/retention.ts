/**
 * Retention: finished jobs beyond `keep_finished` leave the live set (jobs.json, or the live rows
 * on PostgreSQL) so that every change stays small. A pure rule, the same on both stores.
 */
import type { Job, State } from './job.ts';
import { neededByWaiting } from './workflow.ts';

/** The states a job may be archived in. Dead jobs stay in jobs.json: the DLQ is for people to see. */
export const ARCHIVED_STATES: readonly State[] = ['completed', 'cancelled'];

/**
 * The finished jobs to move out: once more than `keep` + a tenth of it are finished, the oldest
 * go until `keep` are left. The slack makes archiving a batch operation, not one per job.
 */
export function jobsToArchive(jobs: readonly Job[], keep: number): Job[] {
  // A job that a waiting job depends on stays in jobs.json, where the supervisor looks for it.
  const needed = neededByWaiting(jobs);
  const finished = jobs.filter((job) => ARCHIVED_STATES.includes(job.state) && !needed.has(job.id));
  if (finished.length <= keep + Math.max(1, Math.floor(keep / 10))) return [];
  const oldestFirst = [...finished].sort((a, b) => (a.finished_at ?? a.updated_at).localeCompare(b.finished_at ?? b.updated_at));
  return oldestFirst.slice(0, finished.length - keep);
}
