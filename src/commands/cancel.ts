import { Option } from 'clipanion';
import { parseDuration } from '../duration.ts';
import { invalid, QueueError } from '../error.ts';
import { cancelJob, findJob, isFinished, type Owner } from '../job.ts';
import { HOST, isRunning } from '../proc.ts';
import { killAll, runProcesses } from '../recovery.ts';
import { transact } from '../store.ts';
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
      \`kill-grace\`, from its worker, which ends the run's log with \`cancelled\`; the command
      waits until they are gone. If its supervisor is gone, the command signals them itself.
    `,
    examples: [
      ['Cancel a job', '$0 cancel job1'],
      ['Cancel several', '$0 cancel job1 job2'],
    ],
  });

  ids = Option.Rest({ required: 1 });

  async run() {
    if (new Set(this.ids).size !== this.ids.length) throw invalid('an id is given twice');
    const running = await transact(this.store, (doc, config) => {
      const now = this.context.now();
      const targets = this.ids.map((id) => findJob(doc.jobs, id));
      for (const job of targets) {
        if (isFinished(job)) throw new QueueError('conflict', `job "${job.id}" is already ${job.state}; only unfinished jobs can be cancelled`);
      }
      const runs = targets.filter((job) => job.state === 'processing' && job.owner && job.started_at).map((job) => ({ id: job.id, owner: job.owner as Owner, started_at: job.started_at as string }));
      const ids = new Set(this.ids);
      doc.jobs = doc.jobs.map((job) => (ids.has(job.id) ? cancelJob(job, now) : job));
      return { runs, graceMs: parseDuration(config.kill_grace) };
    });
    for (const run of running.runs) await this.stop(run, running.graceMs);
    this.out(this.ids.map((id) => `cancelled ${id}`).join('\n'));
  }

  private async stop(run: { id: string; owner: Owner; started_at: string }, graceMs: number): Promise<void> {
    if (run.owner.host !== HOST) {
      this.context.stderr.write(`queuectl: job ${run.id} runs on ${run.owner.host}; its processes end there when they end\n`);
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
}
