/**
 * Crash recovery: a `processing` job whose supervisor is gone goes back to pending, but only
 * once every process of that run is gone too, so a job never runs twice at the same time.
 *
 * Each run's processes carry QUEUECTL_JOB_ID and QUEUECTL_RUN in their environment, which
 * survives a reparenting and even a `setsid` in the job. Leftovers of a dead supervisor's run
 * get SIGTERM, then SIGKILL after a grace period: nobody can record their result any more.
 */
import { holdsClaim, type Interrupted } from '../lifecycle/dispatch.ts';
import type { Home } from '../store/home.ts';
import type { Job, Owner } from '../lifecycle/job.ts';
import { logInterruption } from './joblog.ts';
import { findProcessesWithEnv, HOST, isRunning, signalGroup } from '../system/proc.ts';

/** How long a dead supervisor's leftover job processes get between SIGTERM and SIGKILL. */
export const ORPHAN_GRACE_MS = 2_000;

/** The environment that marks every process of one run of a job. */
export function runMarkers(id: string, owner: Owner, startedAt: string): Record<string, string> {
  return { QUEUECTL_JOB_ID: id, QUEUECTL_RUN: `${owner.host}/${owner.pid}/${owner.started}/${startedAt}` };
}

export function runProcesses(id: string, owner: Owner, startedAt: string): number[] {
  return findProcessesWithEnv(runMarkers(id, owner, startedAt));
}

export function killAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** SIGKILLs every process carrying these markers until none is left; false if some would not die. */
export async function killMarked(markers: Record<string, string>, pgid: number | null = null, deadlineMs = 30_000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (pgid !== null) signalGroup(pgid, 'SIGKILL');
    const left = findProcessesWithEnv(markers);
    if (left.length === 0) return true;
    killAll(left, 'SIGKILL');
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGKILLs a run's process group and every process of that run, until none is left. */
export function killRun(id: string, owner: Owner, startedAt: string, pgid: number | null): Promise<boolean> {
  return killMarked(runMarkers(id, owner, startedAt), pgid);
}

/** Remembers which leftovers it has signalled, across scans. */
export class OrphanWatch {
  private signalled = new Map<string, { at: number; killed: boolean }>();

  constructor(private readonly graceMs = ORPHAN_GRACE_MS) {}

  /**
   * The orphaned jobs that are safe to recover now; signals the leftovers of the others. `lost`:
   * the processing jobs whose claim is lost, as the store tells (its supervisor is gone, or on
   * PostgreSQL its lease ran out). Leftovers can only be found on this host; another host's
   * supervisor kills its own jobs before its lease can run out.
   */
  scan(jobs: readonly Job[], lost: ReadonlySet<string>, nowMs: number, log: (line: string) => void): Interrupted[] {
    const ready: Interrupted[] = [];
    const seen = new Set<string>();
    for (const job of jobs) {
      if (job.state !== 'processing' || !lost.has(job.id)) continue;
      const key = `${job.id}@${job.started_at}`;
      seen.add(key);
      const reason = !job.owner ? 'it was processing without an owner' : job.owner.host === HOST && !isRunning(job.owner) ? `supervisor ${job.owner.pid} is gone` : `the lease of supervisor ${job.owner.pid} on ${job.owner.host} ran out`;
      const left = job.owner && job.started_at ? runProcesses(job.id, job.owner, job.started_at) : [];
      if (left.length === 0) {
        ready.push({ id: job.id, owner: job.owner, started_at: job.started_at, reason, orphan: true });
        continue;
      }
      const mark = this.signalled.get(key);
      if (!mark) {
        log(`job ${job.id}: ${reason}; stopping its leftover processes ${left.join(', ')} before it runs again`);
        killAll(left, 'SIGTERM');
        this.signalled.set(key, { at: nowMs, killed: false });
      } else if (nowMs - mark.at >= this.graceMs) {
        killAll(left, 'SIGKILL');
        mark.killed = true;
      }
    }
    for (const key of this.signalled.keys()) if (!seen.has(key)) this.signalled.delete(key);
    return ready;
  }
}

/**
 * Ends the logs of crashed runs that are about to be recovered, before the commit that lets the
 * job run again, so that the line cannot land after a new run's start. Returns the ids of claims
 * whose run never started (no start marker: a claim waiting at its supervisor, a worker that died
 * before it spawned). A log that cannot be read or written does not hold up the recovery: it is
 * said once in the supervisor's log, and the run counts as started.
 */
export function logCrashes(home: Home, jobs: readonly Job[], crashed: readonly Interrupted[], now: Date, log: (line: string) => void): Set<string> {
  const neverStarted = new Set<string>();
  for (const { id, owner, started_at, reason } of crashed) {
    const job = jobs.find((candidate) => candidate.id === id);
    if (!job || !owner || !holdsClaim(job, owner, started_at)) continue;
    try {
      if (!logInterruption(home, job, reason, now)) neverStarted.add(id);
    } catch (error) {
      log(`job ${id}: cannot note the interruption in its log: ${(error as Error).message}`);
    }
  }
  return neverStarted;
}
