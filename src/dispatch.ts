/**
 * One supervisor turn as a pure function: record finished runs, put interrupted claims back,
 * claim due jobs for idle workers. The supervisor applies it inside a single transaction, so a
 * busy queue costs one rewrite of jobs.json for many results and claims together.
 */
import { claimJob, finishJob, pickDue, recoverJob, releaseJob, type Job, type Owner, type RunResult } from './job.ts';
import type { Queues } from './queue.ts';
import { admitter, endBlocked } from './workflow.ts';

export interface Finished {
  id: string;
  owner: Owner;
  result: RunResult;
  /** Cut short by a forced stop: not a failure of the command. */
  interrupted: boolean;
}

export interface Interrupted {
  id: string;
  /** The claim being taken back: if the job has moved on since, it is left alone. */
  owner: Owner | null;
  started_at: string | null;
  reason: string;
}

export interface Turn {
  finished: Finished[];
  interrupted: Interrupted[];
  /** Claims whose worker went away before the job was sent to it. */
  released: { id: string; owner: Owner }[];
  /** One owner per idle worker; empty while draining. */
  idle: Owner[];
  backoffBase: number;
  /** Queue limits and pauses, as jobs.json has them now. */
  queues?: Queues;
}

export type Event =
  | { kind: 'recorded'; job: Job }
  | { kind: 'recovered'; job: Job; reason: string }
  | { kind: 'released'; job: Job }
  | { kind: 'blocked'; job: Job }
  | { kind: 'ignored'; id: string; reason: string };

export function sameOwner(a: Owner | null, b: Owner | null): boolean {
  if (a === null || b === null) return a === b;
  return a.pid === b.pid && a.started === b.started && a.host === b.host && a.worker === b.worker;
}

export function takeTurn(jobs: Job[], turn: Turn, now: Date): { jobs: Job[]; claimed: Job[]; events: Event[] } {
  const byId = new Map(jobs.map((job, index) => [job.id, index]));
  const next = [...jobs];
  const events: Event[] = [];
  const update = (id: string, owner: Owner | null, change: (job: Job) => Event) => {
    const index = byId.get(id);
    const job = index === undefined ? undefined : next[index];
    if (index === undefined || !job) return events.push({ kind: 'ignored', id, reason: 'it is no longer in jobs.json' });
    if (job.state !== 'processing' || !sameOwner(job.owner, owner)) {
      return events.push({ kind: 'ignored', id, reason: `it is now ${job.state}${job.owner ? ` under supervisor ${job.owner.pid}` : ''}` });
    }
    const event = change(job);
    if (event.kind !== 'ignored') next[index] = event.job;
    events.push(event);
  };

  for (const { id, owner, result, interrupted } of turn.finished) {
    update(id, owner, (job) =>
      interrupted ? { kind: 'recovered', job: recoverJob(job, 'interrupted by a forced stop', now), reason: 'forced stop' } : { kind: 'recorded', job: finishJob(job, result, turn.backoffBase, now) },
    );
  }
  for (const { id, owner, started_at, reason } of turn.interrupted) {
    update(id, owner, (job) =>
      job.started_at === started_at ? { kind: 'recovered', job: recoverJob(job, reason, now), reason } : { kind: 'ignored', id, reason: 'it was claimed again' },
    );
  }
  for (const { id, owner } of turn.released) {
    update(id, owner, (job) => ({ kind: 'released', job: releaseJob(job, now) }));
  }

  // Results first: a dependency that has just died ends its dependents in this same commit.
  const settled = endBlocked(next, now);
  for (const job of settled.ended) {
    next[byId.get(job.id) as number] = job;
    events.push({ kind: 'blocked', job });
  }

  const claimed = pickDue(next, now, turn.idle.length, admitter(turn.queues)).map((job, slot) => claimJob(job, turn.idle[slot] as Owner, now));
  for (const job of claimed) next[byId.get(job.id) as number] = job;
  return { jobs: next, claimed, events };
}
