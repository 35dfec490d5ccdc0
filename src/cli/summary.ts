/**
 * The queue at a glance, as `status` and the dashboard's overview show it: jobs per state
 * (archived ones included), the supervisors with what each worker runs, and the processing
 * jobs whose supervisor is gone.
 */
import { STATES, type Job, type State } from '../lifecycle/job.ts';
import type { Archived } from '../lifecycle/jobfile/document.ts';
import type { SupervisorRecord } from '../store/store.ts';

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

export interface Summary {
  total: number;
  counts: Record<State, number>;
  /** Jobs running on a worker of a live supervisor (not those claimed and waiting for one). */
  running: Job[];
  supervisors: SupervisorSummary[];
  /** Processing jobs whose supervisor is gone: they run again once a supervisor recovers them. */
  waiting: { job: string; command: string; started_at: string | null; owner_pid: number | null; owner_host: string | null }[];
  next_due_at: string | null;
}

/** `lost`: the processing jobs whose claim is lost (the store's `lostClaims`). */
export function summarize(jobs: readonly Job[], archived: Archived | undefined, live: readonly SupervisorRecord[], lost: ReadonlySet<string>): Summary {
  const counts = Object.fromEntries(STATES.map((state) => [state, 0])) as Record<State, number>;
  for (const job of jobs) counts[job.state]++;
  counts.completed += archived?.completed ?? 0;
  counts.cancelled += archived?.cancelled ?? 0;
  const processing = jobs.filter((job) => job.state === 'processing');
  const alive = processing.filter((job) => job.owner && !lost.has(job.id));
  const running = alive.filter((job) => (job.owner?.worker ?? 0) > 0);
  const waiting = processing
    .filter((job) => !alive.includes(job))
    .map((job) => ({ job: job.id, command: job.command, started_at: job.started_at, owner_pid: job.owner?.pid ?? null, owner_host: job.owner?.host ?? null }));
  const supervisors = live.map((supervisor) => ({
    pid: supervisor.pid,
    host: supervisor.host,
    started_at: supervisor.started_at,
    heartbeat_at: supervisor.heartbeat_at ?? null,
    phase: supervisor.phase ?? 'running',
    workers: supervisor.count,
    waiting_to_start: alive.filter((job) => job.owner?.worker === 0 && job.owner?.pid === supervisor.pid && job.owner?.host === supervisor.host).length,
    running: running
      .filter((job) => job.owner?.pid === supervisor.pid && job.owner?.host === supervisor.host)
      .map((job) => ({ worker: job.owner?.worker ?? 0, job: job.id, command: job.command, started_at: job.started_at, run: job.attempts + 1, runs: Math.max(1, job.max_retries) })),
  }));
  const next = jobs.filter((job) => job.state === 'pending' || job.state === 'failed').map((job) => job.run_at).sort()[0] ?? null;
  return { total: Object.values(counts).reduce((sum, count) => sum + count, 0), counts, running, supervisors, waiting, next_due_at: next };
}
