/**
 * Which archived jobs a restart or a retry may bring back: dependents that a dead or cancelled
 * job ended (`reviveDependents`) leave jobs.json for the archive like any cancelled job, and a
 * transaction sees only the archived jobs it names. So they are found first, without the lock,
 * and named; the transaction then decides on the jobs as they are.
 */
import { reviveDependents } from '../lifecycle/workflow.ts';
import type { Store } from '../store/store.ts';

/**
 * The ids of the jobs that a restart of `ids` (or of every dead job) would revive, as the store
 * holds them now, and of their dependencies. The archive is read only when cancelled jobs have
 * been archived at all.
 */
export async function dependentsToLoad(store: Store, ids: readonly string[] | 'dead'): Promise<string[]> {
  const doc = await store.readJobs();
  if (!doc.archived?.cancelled) return [];
  const from = ids === 'dead' ? doc.jobs.filter((job) => job.state === 'dead').map((job) => job.id) : ids;
  if (from.length === 0) return [];
  const all = await store.readAllJobs();
  const revived = new Set(reviveDependents(all, from, store.now()).revived);
  // Their other dependencies too: one that ended and was archived keeps a dependent cancelled.
  return [...new Set(all.filter((job) => revived.has(job.id)).flatMap((job) => [job.id, ...job.after]))];
}
