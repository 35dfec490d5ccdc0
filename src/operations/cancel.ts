/**
 * cancel: unfinished jobs become cancelled, all or none; a running one is stopped by its worker
 * (SIGTERM, then SIGKILL after kill-grace), or here if its supervisor is gone.
 */
import { parseDuration } from '../lifecycle/duration.ts';
import { invalid, QueueError } from '../lifecycle/error.ts';
import { findJob, isFinished, type Owner } from '../lifecycle/job.ts';
import { cancelJob } from '../lifecycle/transition.ts';
import type { Store } from '../store/store.ts';
import { killAll, runProcesses } from '../supervisor/recovery.ts';
import { HOST, isRunning } from '../system/proc.ts';

/** How long past its grace period a live supervisor's worker may take to stop a cancelled run. */
const WORKER_SLACK_MS = 2_000;
/** How often the processes of a cancelled run are looked for while they stop. */
const STOP_POLL_MS = 50;

interface Run {
  id: string;
  owner: Owner;
  started_at: string;
}

/** Cancels the jobs, then waits until the processes of those that were running are gone. */
export async function cancelJobs(store: Store, ids: readonly string[], warn: (line: string) => void): Promise<void> {
  if (new Set(ids).size !== ids.length) throw invalid('an id is given twice');
  const running = await store.transact((doc, config) => {
    const now = store.now();
    const targets = ids.map((id) => findJob(doc.jobs, id));
    for (const job of targets) {
      if (isFinished(job)) throw new QueueError('conflict', `job "${job.id}" is already ${job.state}; only unfinished jobs can be cancelled`);
    }
    const runs = targets.filter((job) => job.state === 'processing' && job.owner && job.started_at).map((job): Run => ({ id: job.id, owner: job.owner as Owner, started_at: job.started_at as string }));
    const wanted = new Set(ids);
    doc.jobs = doc.jobs.map((job) => (wanted.has(job.id) ? cancelJob(job, now) : job));
    return { runs, graceMs: parseDuration(config.kill_grace) };
  });
  for (const run of running.runs) await stopRun(run, running.graceMs, warn);
}

async function stopRun(run: Run, graceMs: number, warn: (line: string) => void): Promise<void> {
  if (run.owner.host !== HOST) {
    warn(`job ${run.id} runs on ${run.owner.host}; its processes end there when they end`);
    return;
  }
  // A live supervisor stops the run through its worker, which notes the cancel in the log: the
  // command only waits, and signals the processes itself once that should have been done.
  const term = Date.now() + (isRunning(run.owner) ? graceMs + WORKER_SLACK_MS : 0);
  const kill = term + graceMs;
  for (;;) {
    const left = runProcesses(run.id, run.owner, run.started_at);
    if (left.length === 0) return;
    const now = Date.now();
    if (now >= term) killAll(left, now >= kill ? 'SIGKILL' : 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
  }
}
