/**
 * One supervisor turn as a pure function: record finished runs, put interrupted claims back,
 * note which waiting claims have started and where, claim due jobs. The supervisor applies it
 * inside a single transaction, so a busy queue costs one rewrite of jobs.json for many results
 * and claims together.
 *
 * A claim names its supervisor and the worker that runs it; worker 0 means "claimed, waiting at
 * its supervisor for a worker, not started". Other supervisors read that: nothing starts behind
 * a job that waits to start elsewhere.
 */
import type { Backoff } from './backoff.ts';
import type { Job, Owner, RunResult } from './job.ts';
import { claimJob, finishJob, recoverJob, releaseJob } from './transition.ts';
import { pickDue } from './start-order.ts';
import type { Queues } from './queue.ts';
import { admitter, endBlocked } from './workflow.ts';

/** The worker number of a claim that waits at its supervisor and has not started. */
export const WAITING = 0;

/**
 * A claim waiting elsewhere stops holding others back after this long: a live supervisor starts
 * it or hands it back within a tenth of a second and records that in its next commit; one that
 * is stopped (SIGSTOP) or cannot write must not halt every other supervisor.
 */
export const WAIT_FOR_OTHERS_MS = 2_000;

export type SupervisorId = Pick<Owner, 'pid' | 'started' | 'host'>;

/** A claim of this supervisor, as the turn that made it left it in jobs.json. */
export interface Claim {
  id: string;
  owner: Owner;
  started_at: string;
}

export interface Finished extends Claim {
  result: RunResult;
  /** Cut short by a forced stop: not a failure of the command, and not a crash. */
  interrupted: boolean;
}

export interface Interrupted {
  id: string;
  /** The claim being taken back: if the job has moved on since, it is left alone. */
  owner: Owner | null;
  started_at: string | null;
  reason: string;
  /** Its supervisor is gone (not only its worker): a claim that never started there counts nothing. */
  orphan: boolean;
}

export interface Turn {
  finished: Finished[];
  /** Runs cut short by a crash (their worker or supervisor died): these count towards the poison-pill limit. */
  interrupted: Interrupted[];
  /** Claims handed back unstarted: their worker went away, a drain, or no worker came free in time. */
  released: Claim[];
  /** Waiting claims that have since been sent to this worker. */
  placed: (Claim & { worker: number })[];
  self: SupervisorId;
  /** Free workers, each to get one claim now; empty while draining. */
  workers: number[];
  /** How many more jobs to claim to wait at the supervisor (worker 0). */
  waiting: number;
  backoffBase: number | Backoff;
  /** Queue limits and pauses, as jobs.json has them now. */
  queues?: Queues;
}

export type Event =
  | { kind: 'recorded'; job: Job }
  | { kind: 'recovered'; job: Job; reason: string }
  | { kind: 'released'; job: Job }
  | { kind: 'blocked'; job: Job }
  | { kind: 'ignored'; id: string; reason: string };

export function sameSupervisor(a: SupervisorId | null, b: SupervisorId | null): boolean {
  if (a === null || b === null) return a === b;
  return a.pid === b.pid && a.started === b.started && a.host === b.host;
}

/**
 * Whether jobs.json still gives this claim to its supervisor. The claim is its supervisor and
 * the instant it was made; the worker number is left out, since a waiting claim gets its worker
 * only when it starts.
 */
export function holdsClaim(job: Job, owner: SupervisorId | null, startedAt: string | null): boolean {
  return job.state === 'processing' && sameSupervisor(job.owner, owner) && job.started_at === startedAt;
}

/** A job claimed by another supervisor that waits there to start (and not for too long). */
export function waitingElsewhere(self: SupervisorId, now: Date): (job: Job) => boolean {
  return (job) =>
    job.state === 'processing' &&
    job.owner?.worker === WAITING &&
    !sameSupervisor(job.owner, self) &&
    now.getTime() - Date.parse(job.started_at ?? '') < WAIT_FOR_OTHERS_MS;
}

/** The queue-settings entry of `queue pause` with no name: every queue is paused. */
export const EVERY_QUEUE = '*';

export function everyQueuePaused(queues: Queues | undefined): boolean {
  return queues?.[EVERY_QUEUE]?.paused === true;
}

/**
 * The pure turn for what a supervisor asks of its store: the results it records as given, and
 * whom it claims for (none, for a turn that only records).
 */
export function turnOf(
  request: { readonly [K in 'finished' | 'interrupted' | 'released' | 'placed']: readonly Turn[K][number][] } & Pick<Turn, 'self'>,
  claims: Pick<Turn, 'waiting' | 'backoffBase' | 'queues'> & { workers: readonly number[] },
): Turn {
  const { finished, interrupted, released, placed, self } = request;
  return { finished: [...finished], interrupted: [...interrupted], released: [...released], placed: [...placed], self, ...claims, workers: [...claims.workers] };
}

export function takeTurn(jobs: Job[], turn: Turn, now: Date): { jobs: Job[]; claimed: Job[]; events: Event[] } {
  const byId = new Map(jobs.map((job, index) => [job.id, index]));
  const next = [...jobs];
  const events: Event[] = [];
  const update = (id: string, owner: Owner | null, startedAt: string | null, change: (job: Job) => Extract<Event, { job: Job }>) => {
    const index = byId.get(id);
    const job = index === undefined ? undefined : next[index];
    if (index === undefined || !job) return events.push({ kind: 'ignored', id, reason: 'it is no longer in jobs.json' });
    if (job.state !== 'processing' || !sameSupervisor(job.owner, owner)) {
      return events.push({ kind: 'ignored', id, reason: `it is now ${job.state}${job.owner ? ` under supervisor ${job.owner.pid}` : ''}` });
    }
    if (job.started_at !== startedAt) return events.push({ kind: 'ignored', id, reason: 'it was claimed again' });
    const event = change(job);
    next[index] = event.job;
    events.push(event);
  };

  for (const { id, owner, started_at, result, interrupted } of turn.finished) {
    update(id, owner, started_at, (job) =>
      interrupted
        ? { kind: 'recovered', job: recoverJob(job, result.error ?? 'forced stop', now, 'forced'), reason: result.error ?? 'forced stop' }
        : { kind: 'recorded', job: finishJob(job, result, turn.backoffBase, now) },
    );
  }
  for (const { id, owner, started_at, reason } of turn.interrupted) {
    update(id, owner, started_at, (job) => ({ kind: 'recovered', job: recoverJob(job, reason, now, 'crash'), reason }));
  }
  for (const { id, owner, started_at } of turn.released) {
    update(id, owner, started_at, (job) => ({ kind: 'released', job: releaseJob(job, now) }));
  }
  // A start is a fact for the others to see; if the claim has moved on (it finished in this very
  // turn, or was cancelled), there is nothing to note.
  for (const { id, owner, started_at, worker } of turn.placed) {
    const index = byId.get(id);
    const job = index === undefined ? undefined : next[index];
    if (index !== undefined && job && holdsClaim(job, owner, started_at)) next[index] = { ...job, owner: { ...(job.owner as Owner), worker } };
  }

  // Results first: a dependency that has just died ends its dependents in this same commit.
  const settled = endBlocked(next, now);
  for (const job of settled.ended) {
    next[byId.get(job.id) as number] = job;
    events.push({ kind: 'blocked', job });
  }

  const limit = everyQueuePaused(turn.queues) ? 0 : turn.workers.length + turn.waiting;
  const claimed = pickDue(next, now, limit, { held: waitingElsewhere(turn.self, now), admit: admitter(turn.queues) }).map((job, i) =>
    claimJob(job, { ...turn.self, worker: turn.workers[i] ?? WAITING }, now),
  );
  for (const job of claimed) next[byId.get(job.id) as number] = job;
  return { jobs: next, claimed, events };
}

/** [priority, position in creation order]: the same ordering as `byPriority`. */
export type Rank = readonly [number, number];

/**
 * Where a supervisor's held jobs stand, read from the jobs in creation order: each held job
 * with its rank, and the rank of the first job in start order that waits to start at another
 * supervisor (nothing behind it may start here), or null.
 */
export function standing(jobs: readonly Job[], holding: readonly string[], self: SupervisorId, now: Date): { holding: Map<string, { job: Job; rank: Rank }>; bar: Rank | null } {
  const wanted = new Set(holding);
  const elsewhere = waitingElsewhere(self, now);
  const held = new Map<string, { job: Job; rank: Rank }>();
  let bar: Rank | null = null;
  for (const [index, job] of jobs.entries()) {
    const rank: Rank = [job.priority, index];
    if (wanted.has(job.id)) held.set(job.id, { job, rank });
    else if (elsewhere(job) && (bar === null || job.priority > bar[0])) bar = rank;
  }
  return { holding: held, bar };
}
