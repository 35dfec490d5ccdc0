/**
 * Supervisors on one host: a PID file each (registry.ts) that also says its phase, stop requests
 * as signals, and /proc for whether a claim's supervisor is still alive.
 */
import type { Job } from '../../lifecycle/job.ts';
import { HOST, isRunning } from '../../system/proc.ts';
import type { Home } from '../home.ts';
import type { Phase, Registration, SupervisorRecord } from '../store.ts';
import { ioError } from './atomic.ts';
import { listRegistered, registerSupervisor, removeStale, unregisterSupervisor } from './registry.ts';

/** How long `requestStop --force` leaves between the first signal and the second. */
const SECOND_SIGNAL_MS = 200;

export function register(home: Home, record: SupervisorRecord): Registration {
  try {
    removeStale(home);
    registerSupervisor(home, record);
  } catch (error) {
    if (typeof (error as NodeJS.ErrnoException).code !== 'string') throw error;
    throw ioError('register a supervisor in', home.supervisors, error as NodeJS.ErrnoException);
  }
  let current = record;
  return {
    renewEveryMs: null,
    fenceMs: null,
    // The PID file says the phase too, so that `status` and `worker stop` can tell; stop
    // requests come as signals.
    renew: async (phase: Phase) => {
      if (current.phase !== phase) {
        current = { ...current, phase };
        registerSupervisor(home, current);
      }
      return { stop: null };
    },
    unregister: async () => unregisterSupervisor(home, record.pid),
  };
}

/**
 * SIGTERM to each supervisor on this host that is still running (one already draining gets
 * none: a second signal would force it); with `force`, a second signal to all.
 */
export async function requestStop(home: Home, { force }: { force: boolean }): Promise<{ asked: SupervisorRecord[]; notes: string[] }> {
  const notes: string[] = [];
  const stale = removeStale(home);
  if (stale > 0) notes.push(`removed ${stale} stale PID file${stale === 1 ? '' : 's'}`);
  const records = listRegistered(home).flatMap(({ record }) => (record ? [record] : []));
  // PID files of another host (a store on a shared filesystem): its processes cannot be signalled from here.
  for (const record of records.filter((r) => r.host !== HOST)) notes.push(`supervisor ${record.pid} runs on ${record.host}; stop it there`);
  const live = records.filter((record) => record.host === HOST && isRunning(record));
  const first = live.filter((record) => (record.phase ?? 'running') === 'running');
  for (const record of first) signal(record);
  if (force) {
    if (first.length > 0) await new Promise((resolve) => setTimeout(resolve, SECOND_SIGNAL_MS));
    for (const record of live.filter((r) => r.phase !== 'forcing' && isRunning(r))) signal(record);
  }
  return { asked: live, notes };
}

function signal(record: SupervisorRecord): void {
  try {
    process.kill(record.pid, 'SIGTERM');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** On one host, /proc answers at once: a claim is lost when its supervisor's process is gone. */
export function lostClaims(jobs: readonly Job[]): Set<string> {
  return new Set(jobs.filter((job) => job.state === 'processing' && ownerGone(job)).map((job) => job.id));
}

function ownerGone(job: Job): boolean {
  if (job.owner === null) return true;
  return job.owner.host === HOST && !isRunning(job.owner);
}
