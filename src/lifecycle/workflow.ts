/**
 * Dependencies between jobs (`--after`): a job starts only once every job it waits for has
 * completed, and never runs if one of them ends dead or cancelled. Pure functions, like the
 * lifecycle they extend; the supervisor applies them inside its transaction.
 */
import { invalid } from './error.ts';
import { isFinished, placeByCreation, type Job } from './job.ts';
import { cancelJob, restartJob } from './transition.ts';
import type { Admit } from './start-order.ts';
import { admitByQueue, type Queues } from './queue.ts';

/** How the last error of a job ended by its dependency begins: `restart` of that dependency looks for it. */
export const DEPENDENCY_ENDED = 'not run: dependency';

/**
 * The state a dependency is in as a dependent sees it. A dependency missing from jobs.json has
 * left it through the archive, which only takes completed or cancelled jobs that no waiting job
 * names, so a job enqueued after it found it completed (one enqueued after a cancelled job is
 * cancelled at once: `enqueueDependents`).
 */
function dependencyState(byId: ReadonlyMap<string, Job>, id: string): Job['state'] {
  return byId.get(id)?.state ?? 'completed';
}

const index = (jobs: readonly Job[]) => new Map(jobs.map((job) => [job.id, job]));

/** The dependencies of `job` that have not completed yet. */
export function waitingFor(job: Job, jobs: readonly Job[] | ReadonlyMap<string, Job>): string[] {
  const byId = jobs instanceof Map ? jobs : index(jobs as readonly Job[]);
  return job.after.filter((id) => dependencyState(byId, id) !== 'completed');
}

/** Due jobs whose queue has room and whose dependencies have all completed, in the order given. */
export function admitter(queues: Queues | undefined): Admit {
  return (ordered, jobs) => {
    let ready: readonly Job[] = ordered;
    if (ordered.some((job) => job.after.length > 0)) {
      const byId = index(jobs);
      ready = ordered.filter((job) => job.after.every((id) => dependencyState(byId, id) === 'completed'));
    }
    // Without settings no queue is paused or limited: nothing to count.
    return queues && Object.keys(queues).length > 0 ? admitByQueue(ready, jobs, queues) : [...ready];
  };
}

/**
 * Ends the waiting jobs (pending or failed) that depend on a dead or cancelled job, as cancelled,
 * with a last error naming it; chains end in one call. Returns the jobs and those it ended.
 */
export function endBlocked(jobs: readonly Job[], now: Date): { jobs: Job[]; ended: Job[] } {
  const next = [...jobs];
  const ended: Job[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    const byId = index(next);
    next.forEach((job, at) => {
      if (job.state !== 'pending' && job.state !== 'failed') return;
      const blocker = job.after.map((id) => byId.get(id)).find((dep) => dep?.state === 'dead' || dep?.state === 'cancelled');
      if (!blocker) return;
      const done = { ...cancelJob(job, now), last_error: `${DEPENDENCY_ENDED} "${blocker.id}" is ${blocker.state}` };
      next[at] = done;
      ended.push(done);
      changed = true;
    });
  }
  return { jobs: next, ended };
}

/** Whether some waiting job would be ended by `endBlocked`: a reason for a supervisor to take a turn. */
export function hasBlocked(jobs: readonly Job[]): boolean {
  // Asked on every idle wake of a supervisor: most queues have no dependencies at all.
  const dependents = jobs.filter((job) => job.after.length > 0 && (job.state === 'pending' || job.state === 'failed'));
  if (dependents.length === 0) return false;
  const byId = index(jobs);
  return dependents.some((job) => job.after.some((id) => ['dead', 'cancelled'].includes(byId.get(id)?.state ?? '')));
}

/**
 * After `restart` or `dlq retry` of `ids`: the jobs that a failure of one of them ended (directly
 * or down a chain) go back to pending too, so the chain goes on, unless another of their
 * dependencies ended dead or cancelled as well. `archived` are archived jobs to look through as
 * well: one revived from there comes back live at its place by creation. Returns the live jobs
 * and the ids of those revived.
 */
export function reviveDependents(jobs: readonly Job[], ids: readonly string[], now: Date, archived: readonly Job[] = []): { jobs: Job[]; revived: string[] } {
  const live = new Set(jobs.map((job) => job.id));
  // The archive may hold several jobs of one id (ids are reused once finished): the last is current.
  const dormant = [...new Map(archived.filter((job) => !live.has(job.id)).map((job) => [job.id, job])).values()];
  const pool = [...jobs, ...dormant];
  const revived: string[] = [];
  const back = new Set(ids);
  const ended = (job: Job | undefined) => job?.state === 'dead' || job?.state === 'cancelled';
  for (let changed = true; changed; ) {
    changed = false;
    const byId = index(pool);
    pool.forEach((job, at) => {
      if (job.state !== 'cancelled' || !job.last_error?.startsWith(DEPENDENCY_ENDED) || !job.after.some((id) => back.has(id))) return;
      // Another dependency that ended too keeps it cancelled: archived, it would read as completed.
      if (job.after.some((id) => !back.has(id) && ended(byId.get(id)))) return;
      pool[at] = { ...restartJob(job, now), last_error: null };
      back.add(job.id);
      revived.push(job.id);
      changed = true;
    });
  }
  const woken = pool.slice(jobs.length).filter((job) => back.has(job.id));
  return { jobs: placeByCreation(pool.slice(0, jobs.length), woken), revived };
}

/**
 * Checks the dependencies of jobs about to be enqueued against the jobs there are (`known`, the
 * archive included) and each other: every id must exist, and no job may wait for itself,
 * directly or around a cycle.
 */
export function checkDependencies(added: readonly Job[], known: ReadonlyMap<string, Job>): void {
  const batch = index(added);
  for (const job of added) {
    for (const id of job.after) {
      if (id === job.id) throw invalid(`job "${job.id}" cannot wait for itself: drop it from --after`);
      if (!batch.has(id) && !known.has(id)) throw invalid(`job "${job.id}" waits for "${id}", but there is no job "${id}"; enqueue it first, or check the id with queuectl list`);
    }
  }
  const cycle = findCycle(added);
  if (cycle) throw invalid(`these jobs wait for each other in a cycle: ${cycle.join(' → ')}; none of them could ever start`);
}

/**
 * The jobs about to be enqueued, checked (`checkDependencies`), with those that wait for a dead
 * or cancelled job already cancelled, naming it, down chains within the batch: the same outcome
 * as when the dependency ends a moment after the enqueue, whatever the timing. Both stores'
 * enqueue call this. Returns the jobs to add, in the order given, and those it ended.
 */
export function enqueueDependents(added: readonly Job[], known: ReadonlyMap<string, Job>, now: Date): { jobs: Job[]; ended: Job[] } {
  checkDependencies(added, known);
  const batch = new Set(added.map((job) => job.id));
  const named = [...new Set(added.flatMap((job) => job.after))].filter((id) => !batch.has(id));
  // Only ended dependencies decide anything here; endBlocked leaves them as they are.
  const blockers = named.map((id) => known.get(id)!).filter((dependency) => dependency.state === 'dead' || dependency.state === 'cancelled');
  if (blockers.length === 0) return { jobs: [...added], ended: [] };
  const { jobs, ended } = endBlocked([...blockers, ...added], now);
  return { jobs: jobs.slice(blockers.length), ended };
}

/** A cycle among the new jobs' dependencies (old jobs cannot wait for new ones), or null. */
function findCycle(added: readonly Job[]): string[] | null {
  const batch = index(added);
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): string[] | null => {
    if (state.get(id) === 'done') return null;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    for (const next of batch.get(id)?.after ?? []) {
      if (!batch.has(next)) continue;
      const found = visit(next, [...path, id]);
      if (found) return found;
    }
    state.set(id, 'done');
    return null;
  };
  for (const job of added) {
    const found = visit(job.id, []);
    if (found) return found;
  }
  return null;
}

/** Ids that waiting jobs still need to look at: the archive and `clean` leave these in jobs.json. */
export function neededByWaiting(jobs: readonly Job[]): Set<string> {
  return new Set(jobs.filter((job) => !isFinished(job)).flatMap((job) => job.after));
}
