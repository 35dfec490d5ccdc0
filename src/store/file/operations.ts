/**
 * The seam's operations on the file store: each is one transaction over jobs.json under its
 * lock, applying the same pure lifecycle functions as before the operations existed, so the
 * file store behaves as it did. A turn with nothing to record, fire, end or claim reads a
 * snapshot without the lock, as the supervisor's idle wakes always did.
 */
import { backoffPolicy } from '../../lifecycle/backoff.ts';
import type { Config } from '../../lifecycle/config.ts';
import { everyQueuePaused, standing, takeTurn, turnOf, waitingElsewhere } from '../../lifecycle/dispatch.ts';
import { QueueError } from '../../lifecycle/error.ts';
import type { Job } from '../../lifecycle/job.ts';
import { nextDueTime, pickDue } from '../../lifecycle/start-order.ts';
import type { JobsDocument } from '../../lifecycle/jobfile/document.ts';
import { newQueues } from '../../lifecycle/queue.ts';
import { fireSchedules, isScheduleDue, nextFiringTime, scheduleSpec } from '../../lifecycle/schedule.ts';
import { admitter, enqueueDependents, hasBlocked } from '../../lifecycle/workflow.ts';
import type { Enqueued, EnqueueOptions, Store, TurnOutcome, TurnRequest } from '../store.ts';

export async function enqueueJobs(store: Store, jobs: readonly Job[], options: EnqueueOptions = {}): Promise<Enqueued> {
  const ids = new Set(jobs.map((job) => job.id));
  return store.transact(
    (doc, _config, tx) => {
      const live = new Map(doc.jobs.map((job) => [job.id, job]));
      for (const job of jobs) {
        const other = live.get(job.id);
        if (other) throw options.taken?.(job, other) ?? new QueueError('conflict', `a job with id "${job.id}" already exists (${other.state}); choose another id`);
      }
      const named = jobs.flatMap((job) => job.after);
      // A dependency may have moved to the archive (completed long ago): only then is it read.
      const archived = named.every((id) => live.has(id) || ids.has(id)) ? [] : tx.archived;
      const settled = enqueueDependents(jobs, new Map([...archived.map((job) => [job.id, job] as const), ...live]), store.now());
      const fresh = newQueues(jobs, doc.jobs, doc.queues);
      doc.jobs.push(...settled.jobs);
      return { ...settled, newQueues: fresh };
    },
    { archive: jobs.flatMap((job) => job.after) },
  );
}

function schedulesDue(doc: JobsDocument, request: TurnRequest, now: Date): boolean {
  return (doc.schedules ?? []).some((schedule) => isScheduleDue(schedule, now) && request.broken.get(schedule.name) !== scheduleSpec(schedule));
}

/** Whether a turn would change anything: otherwise the snapshot answers it, without the lock. */
function hasWork(doc: JobsDocument, request: TurnRequest, now: Date): boolean {
  if (request.finished.length + request.interrupted.length + request.released.length + request.placed.length > 0) return true;
  if (request.cron && schedulesDue(doc, request, now)) return true;
  const wanted = everyQueuePaused(doc.queues) ? 0 : request.workers.length + request.waiting;
  if (wanted > 0 && pickDue(doc.jobs, now, 1, { held: waitingElsewhere(request.self, now), admit: admitter(doc.queues) }).length > 0) return true;
  return hasBlocked(doc.jobs);
}

function outcome(doc: JobsDocument, request: TurnRequest, now: Date, config: Config, turn: Pick<TurnOutcome, 'claimed' | 'events' | 'fired' | 'broken'>): TurnOutcome {
  // Only what falls due later: what is due now is for this turn's claims.
  const later = doc.jobs.filter((job) => Date.parse(job.run_at) > now.getTime());
  const times = [nextDueTime(later), nextFiringTime(doc.schedules)].filter((time) => time !== null);
  return {
    ...turn,
    config,
    ...standing(doc.jobs, request.holding, request.self, now),
    nextDue: times.length === 0 ? null : Math.min(...times),
    firing: request.cron === null && schedulesDue(doc, request, now),
  };
}

export async function fileTurn(store: Store, request: TurnRequest): Promise<TurnOutcome> {
  const snapshot = await store.readJobs();
  if (!hasWork(snapshot, request, store.now())) {
    return outcome(snapshot, request, store.now(), await store.readConfig(), { claimed: [], events: [], fired: [], broken: [] });
  }
  return store.transact((fresh, config) => {
    const at = store.now();
    // Firings are decided on the fresh read under the lock, and committed with the schedules they advance.
    const fired = request.cron && fresh.schedules ? fireSchedules(fresh.schedules, fresh.jobs, request.cron, at) : null;
    if (fired) {
      fresh.schedules = fired.schedules;
      fresh.jobs.push(...fired.added);
    }
    const turn = turnOf(request, { workers: request.workers, waiting: request.waiting, backoffBase: backoffPolicy(config, Math.random), queues: fresh.queues });
    const result = takeTurn(fresh.jobs, turn, at);
    fresh.jobs = result.jobs;
    return outcome(fresh, request, at, config, { claimed: result.claimed, events: result.events, fired: fired?.added ?? [], broken: fired?.broken ?? [] });
  });
}

export async function lostFileJobs(store: Store): Promise<Job[]> {
  const { jobs } = await store.readJobs();
  const lost = await store.lostClaims(jobs);
  return jobs.filter((job) => lost.has(job.id));
}
