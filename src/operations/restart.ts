/**
 * restart: finished jobs (completed, dead or cancelled) back to pending with a fresh set of runs,
 * all or none, archived ones included; the dependents their failure ended wait for them again.
 */
import { findJob, placeByCreation } from '../lifecycle/job.ts';
import { restartJob } from '../lifecycle/transition.ts';
import { reviveDependents } from '../lifecycle/workflow.ts';
import type { Store } from '../store/store.ts';
import { dependentsToLoad } from './dependents.ts';

/** Restarts the jobs; returns their ids. The ids of dependents revived with them are added to `revived`. */
export async function restartJobs(store: Store, wanted: readonly string[], revived: string[] = []): Promise<string[]> {
  const ids = [...new Set(wanted)];
  const dependents = await dependentsToLoad(store, ids);
  await store.transact((doc, _config, tx) => {
    const now = store.now();
    const live = new Set(doc.jobs.map((job) => job.id));
    const targets = ids.map((id) => findJob(doc.jobs, id, tx.archived));
    // Every job is checked before any changes: one that cannot be restarted leaves all alone.
    const restarted = new Map(targets.map((job) => [job.id, restartJob(job, now)]));
    doc.jobs = doc.jobs.map((job) => restarted.get(job.id) ?? job);
    // An archived job comes back live at its place by creation time.
    const originals = targets.filter((job) => !live.has(job.id));
    doc.jobs = placeByCreation(doc.jobs, originals.map((job) => restarted.get(job.id)!));
    const chain = reviveDependents(doc.jobs, ids, now, tx.archived.filter((job) => !restarted.has(job.id)));
    doc.jobs = chain.jobs;
    revived.splice(0, revived.length, ...chain.revived);
  }, { archive: [...ids, ...dependents] });
  return ids;
}
