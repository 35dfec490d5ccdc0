/** The supervisor's log: one readable line per event, on stderr. */
import type { Event } from '../lifecycle/dispatch.ts';
import { formatDuration } from '../lifecycle/duration.ts';
import { MAX_RECOVERIES, runsOf } from '../lifecycle/job.ts';
import { relativeTime } from '../lifecycle/duration.ts';

export function describeStart(pid: number, count: number, home: string): string {
  return `supervisor ${pid} started with ${count} worker${count === 1 ? '' : 's'} on ${home} (Ctrl+C or queuectl worker stop to drain)`;
}

export function describeEvent(event: Event, now: Date): string {
  if (event.kind === 'ignored') return `result for job ${event.id} not recorded: ${event.reason}`;
  const { job } = event;
  if (event.kind === 'blocked') return `job ${job.id} will not run: ${job.last_error?.replace(/^not run: /, '')}`;
  if (event.kind === 'released') return `job ${job.id} handed back to the queue: its worker went away before it started`;
  if (event.kind === 'recovered') {
    return job.state === 'dead'
      ? `job ${job.id} is dead: ${job.last_error}`
      : `job ${job.id} recovered (${event.reason}): pending again, runs unchanged (${runsOf(job)}), crashes ${job.recoveries} of ${MAX_RECOVERIES}`;
  }
  const last = job.history.at(-1);
  const took = last ? ` in ${formatDuration(last.duration_ms)}` : '';
  if (job.state === 'completed') return `job ${job.id} completed${took}`;
  if (job.state === 'failed') return `job ${job.id} failed${took} (run ${runsOf(job)}): ${job.last_error}; retry ${relativeTime(job.run_at, now)} at ${job.run_at}`;
  return `job ${job.id} is dead after ${job.attempts} run${job.attempts === 1 ? '' : 's'}: ${job.last_error}`;
}
