/**
 * The read model: what `status`, the dashboard's overview and its jobs pages show, put together
 * once from the store's reads (counts, processing jobs, next jobs, activity, pages), so the CLI
 * and the dashboard render the same facts and neither reads every job.
 */
import type { Metrics, Window } from '../lifecycle/activity.ts';
import { DEFAULT_QUEUE, runAllowance, STATES, type Job, type State } from '../lifecycle/job.ts';
import { EVERY_QUEUE, settingsOf, type Queues, type QueueSummary } from '../lifecycle/queue.ts';
import type { DependencyWaits, JobCounts, JobQuery } from '../store/reads.ts';
import type { Store, SupervisorRecord } from '../store/store.ts';

/** How many jobs waiting for dependencies `status` lists; the rest are counted. */
export const DEPENDENCY_LIST_LIMIT = 100;

export interface SupervisorSummary {
  pid: number;
  host: string;
  started_at: string;
  /** The last renewal of its lease, on PostgreSQL; null on the file store. */
  heartbeat_at: string | null;
  phase: NonNullable<SupervisorRecord['phase']>;
  workers: number;
  /** Claimed and waiting here for a worker to come free (short jobs); not started yet. */
  waiting_to_start: number;
  running: { worker: number; job: string; command: string; started_at: string | null; run: number; runs: number }[];
}

/** A processing job whose supervisor is gone: it runs again once a supervisor recovers it. */
export interface RecoveryWait {
  job: string;
  command: string;
  started_at: string | null;
  owner_pid: number | null;
  owner_host: string | null;
}

/** A queue in use, with its jobs counted and what `status` calls waiting and running. */
export interface QueueLine extends QueueSummary {
  waiting: number;
  running: number;
}

export interface Overview {
  total: number;
  counts: Record<State, number>;
  /** The earliest run_at of a waiting job. */
  next_due_at: string | null;
  /** The job to name as next: the next to start among the due ones, else the one due soonest. */
  next: Job | null;
  metrics: Metrics;
  /** Finished and failed runs per minute over the last hour, oldest first. */
  minutes: Window[];
  supervisors: SupervisorSummary[];
  /** Jobs running on a worker of a live supervisor (not those claimed and waiting for one). */
  running: Job[];
  waiting: RecoveryWait[];
  /** Whether a supervisor is running to recover those jobs (one draining or forcing claims nothing). */
  recovering: boolean;
  queues: QueueLine[];
  dependencies: DependencyWaits;
  schedules: { name: string; cron: string; tz: string | null; next_at: string; last_fired_at: string | null }[];
}

/** Jobs that wait to run: pending, or failed and waiting out their backoff. */
export const waitingCount = (counts: Record<State, number>): number => counts.pending + counts.failed;

/** Every queue there is: the default one, those live jobs are in, and those with settings; by name. */
export function queuesInUse(counts: JobCounts['queues'], settings: Queues): QueueLine[] {
  const none = Object.fromEntries(STATES.map((state) => [state, 0])) as Record<State, number>;
  const names = [...new Set([DEFAULT_QUEUE, ...Object.keys(counts), ...Object.keys(settings).filter((name) => name !== EVERY_QUEUE)])].sort();
  return names.map((name) => {
    const inQueue = counts[name] ?? none;
    return { name, counts: inQueue, ...settingsOf(settings, name), waiting: waitingCount(inQueue), running: inQueue.processing };
  });
}

/** Queues get shown once they are used: more than the default one, or a limit or a pause. */
export const queuesShown = (queues: readonly QueueLine[]): boolean => queues.length > 1 || queues.some((queue) => queue.paused || queue.parallel !== null);

/** The supervisors with what each worker runs, and the processing jobs whose claim is lost (`lost`). */
export function summarize(processing: readonly Job[], live: readonly SupervisorRecord[], lost: ReadonlySet<string>): Pick<Overview, 'supervisors' | 'running' | 'waiting' | 'recovering'> {
  const alive = processing.filter((job) => job.owner && !lost.has(job.id));
  const running = alive.filter((job) => (job.owner?.worker ?? 0) > 0);
  const waiting = processing
    .filter((job) => !alive.includes(job))
    .map((job) => ({ job: job.id, command: job.command, started_at: job.started_at, owner_pid: job.owner?.pid ?? null, owner_host: job.owner?.host ?? null }));
  const of = (supervisor: SupervisorRecord) => (job: Job) => job.owner?.pid === supervisor.pid && job.owner?.host === supervisor.host;
  const supervisors = live.map((supervisor) => ({
    pid: supervisor.pid,
    host: supervisor.host,
    started_at: supervisor.started_at,
    heartbeat_at: supervisor.heartbeat_at ?? null,
    phase: supervisor.phase ?? 'running',
    workers: supervisor.count,
    waiting_to_start: alive.filter((job) => job.owner?.worker === 0 && of(supervisor)(job)).length,
    running: running
      .filter(of(supervisor))
      .map((job) => ({ worker: job.owner?.worker ?? 0, job: job.id, command: job.command, started_at: job.started_at, run: job.attempts + 1, runs: runAllowance(job) })),
  }));
  const recovering = live.some((supervisor) => supervisor.phase === undefined || supervisor.phase === 'running');
  return { supervisors, running, waiting, recovering };
}

/**
 * The queue at a glance. One read after another on one connection: on PostgreSQL each is an
 * aggregate or a short list, and opening connections for them at once would cost more.
 */
export async function readOverview(store: Store, now: Date): Promise<Overview> {
  const counts = await store.countJobs();
  const processing = await store.processingJobs();
  const live = await store.supervisors();
  const lost = await store.lostClaims(processing);
  const { start, soonest } = await store.nextJobs(now);
  const { metrics, minutes } = await store.activity(now);
  const { queues, schedules } = await store.queueSettings();
  const dependencies = await store.dependencyWaits(DEPENDENCY_LIST_LIMIT);
  return {
    total: Object.values(counts.states).reduce((sum, count) => sum + count, 0),
    counts: counts.states,
    next_due_at: soonest?.run_at ?? null,
    next: start ?? soonest,
    metrics,
    minutes,
    ...summarize(processing, live, lost),
    queues: queuesInUse(counts.queues, queues),
    dependencies,
    schedules: schedules.map((schedule) => ({ name: schedule.name, cron: schedule.cron, tz: schedule.tz, next_at: schedule.next_at, last_fired_at: schedule.last_fired_at })),
  };
}

/** The jobs that the waiting ones of `jobs` depend on, looked up: what a job's "when" names. */
export async function dependenciesOf(store: Store, jobs: readonly Job[]): Promise<Map<string, Job>> {
  const ids = [...new Set(jobs.filter((job) => job.state === 'pending' || job.state === 'failed').flatMap((job) => job.after))];
  if (ids.length === 0) return new Map();
  return new Map((await store.lookupJobs(ids, { skipMissing: true })).map((job) => [job.id, job]));
}

/** A page of jobs, with what its waiting jobs depend on. */
export async function readJobsPage(store: Store, query: JobQuery, page: { offset: number; limit?: number }): Promise<{ jobs: Job[]; dependencies: Map<string, Job> }> {
  const jobs = await store.pageJobs(query, page);
  return { jobs, dependencies: await dependenciesOf(store, jobs) };
}
