/**
 * clean (and `dlq purge`): finished jobs in the given states that finished long enough ago are
 * deleted, archived ones included, with their logs; a job a waiting job depends on stays.
 */
import { parseDuration } from '../lifecycle/duration.ts';
import { invalid } from '../lifecycle/error.ts';
import { expiredJobs, type Job, type State } from '../lifecycle/job.ts';
import { neededByWaiting } from '../lifecycle/workflow.ts';
import type { Store } from '../store/store.ts';
import { removeLogs } from '../supervisor/joblog.ts';

function cutoffOf(store: Store, olderThan: string | undefined): number {
  try {
    return store.now().getTime() - (olderThan === undefined ? 0 : parseDuration(olderThan));
  } catch (error) {
    throw invalid(`--older-than: ${(error as Error).message}`);
  }
}

/** What `removeExpired` would remove now: read without the lock, for a dry run. */
export async function expiredNow(store: Store, states: readonly State[], olderThan: string | undefined): Promise<Job[]> {
  const cutoff = cutoffOf(store, olderThan);
  const live = (await store.readJobs()).jobs;
  const archived = withoutLive(await store.readAllJobs(), live);
  const needed = neededByWaiting(live);
  return [...expiredJobs(archived, states, cutoff), ...expiredJobs(live, states, cutoff).filter((job) => !needed.has(job.id))];
}

/** Removes expired jobs in one transaction, then their logs; returns how many went. */
export async function removeExpired(store: Store, states: readonly State[], olderThan: string | undefined): Promise<number> {
  const cutoff = cutoffOf(store, olderThan);
  const removed = await store.transact((doc, _config, tx) => {
    // A job that a waiting job depends on stays until that one has started or ended: it decides which.
    const needed = neededByWaiting(doc.jobs);
    const doomed = new Set(expiredJobs(doc.jobs, states, cutoff).filter((job) => !needed.has(job.id)).map((job) => job.id));
    doc.jobs = doc.jobs.filter((job) => !doomed.has(job.id));
    const archived = expiredJobs(tx.archived, states, cutoff);
    tx.forget(archived);
    const liveIds = new Set(doc.jobs.map((job) => job.id));
    return { count: doomed.size + archived.length, logs: [...doomed, ...archived.map((job) => job.id)].filter((id) => !liveIds.has(id)) };
  }, { archive: 'all' });
  removeLogs(store.home, removed.logs);
  return removed.count;
}

/** The jobs of `all` that are not live: an id may be live again (restarted) with its old copy archived. */
function withoutLive(all: readonly Job[], live: readonly Job[]): Job[] {
  const current = new Set(live.map((job) => `${job.id}\n${job.created_at}`));
  return all.filter((job) => !current.has(`${job.id}\n${job.created_at}`));
}
