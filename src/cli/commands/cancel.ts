import { Option } from 'clipanion';
import { parseDuration } from '../../lifecycle/duration.ts';
import { invalid, QueueError } from '../../lifecycle/error.ts';
import { cancelJob, findJob, isFinished, type Owner } from '../../lifecycle/job.ts';
import { HOST, isRunning } from '../../system/proc.ts';
import { killAll, runProcesses } from '../../supervisor/recovery.ts';
import type { Store } from '../../store/store.ts';
import { QueueCommand } from './base.ts';

/** How long past its grace period a live supervisor's worker may take to stop a cancelled run. */
const WORKER_SLACK_MS = 2_000;

export class CancelCommand extends QueueCommand {
  static override paths = [['cancel']];
  static override usage = QueueCommand.Usage({
    description: 'cancel jobs: they will not run (again); a running job is killed first',
    details: `
      A pending, scheduled or failed job becomes \`cancelled\` and stays visible in \`list\`.
      A processing job becomes \`cancelled\` and its processes get SIGTERM, then SIGKILL after
      \`kill-grace\`; the command waits until they are gone.
    `,
    examples: [
      ['Cancel a job', '$0 cancel job1'],
      ['Cancel several', '$0 cancel job1 job2'],
    ],
  });

  ids = Option.Rest({ required: 1 });

  async run() {
    await cancelJobs(this.store, this.ids, (line) => this.context.stderr.write(`queuectl: ${line}\n`));
    this.out(this.ids.map((id) => `cancelled ${id}`).join('\n'));
  }
}

/**
 * Cancels unfinished jobs, all or none; a running one is stopped by its worker (SIGTERM, then
 * SIGKILL after kill-grace), or here if its supervisor is gone, and this waits until it is.
 */
export async function cancelJobs(store: Store, ids: readonly string[], warn: (line: string) => void): Promise<void> {
  if (new Set(ids).size !== ids.length) throw invalid('an id is given twice');
  const running = await store.transact((doc, config) => {
    const now = store.now();
    const targets = ids.map((id) => findJob(doc.jobs, id));
    for (const job of targets) {
      if (isFinished(job)) throw new QueueError('conflict', `job "${job.id}" is already ${job.state}; only unfinished jobs can be cancelled`);
    }
    const runs = targets.filter((job) => job.state === 'processing' && job.owner && job.started_at).map((job) => ({ id: job.id, owner: job.owner as Owner, started_at: job.started_at as string }));
    const wanted = new Set(ids);
    doc.jobs = doc.jobs.map((job) => (wanted.has(job.id) ? cancelJob(job, now) : job));
    return { runs, graceMs: parseDuration(config.kill_grace) };
  });
  for (const run of running.runs) await stopRun(run, running.graceMs, warn);
}

async function stopRun(run: { id: string; owner: Owner; started_at: string }, graceMs: number, warn: (line: string) => void): Promise<void> {
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
