/**
 * dlq retry: dead jobs back to pending with a fresh set of runs; the dependents their death
 * ended wait for them again, archived ones included.
 */
import { QueueError } from '../lifecycle/error.ts';
import { findJob, type Job } from '../lifecycle/job.ts';
import { restartJob } from '../lifecycle/transition.ts';
import { reviveDependents } from '../lifecycle/workflow.ts';
import type { Store } from '../store/store.ts';
import { dependentsToLoad } from './dependents.ts';

/** The ids to retry: every dead job, or the given ids, each of which must name a dead job. */
function deadIds(jobs: readonly Job[], ids: readonly string[] | 'all'): string[] {
  if (ids === 'all') return jobs.filter((job) => job.state === 'dead').map((job) => job.id);
  for (const id of ids) {
    const job = findJob(jobs, id);
    if (job.state !== 'dead') throw new QueueError('conflict', `job "${id}" is ${job.state}, not dead; only dead jobs can be retried`);
  }
  return [...new Set(ids)];
}

/** Retries the given dead jobs, or every dead job; returns their ids, and adds the revived dependents' to `revived`. */
export async function retryDeadJobs(store: Store, wanted: readonly string[] | 'all', revived: string[] = []): Promise<string[]> {
  const dependents = await dependentsToLoad(store, wanted === 'all' ? 'dead' : wanted);
  return store.transact((doc, _config, tx) => {
    const ids = new Set(deadIds(doc.jobs, wanted));
    const now = store.now();
    doc.jobs = doc.jobs.map((job) => (ids.has(job.id) ? restartJob(job, now) : job));
    const chain = reviveDependents(doc.jobs, [...ids], now, dependents.length > 0 ? tx.archived : []);
    doc.jobs = chain.jobs;
    revived.splice(0, revived.length, ...chain.revived);
    return [...ids];
  }, dependents.length > 0 ? { archive: dependents } : {});
}
