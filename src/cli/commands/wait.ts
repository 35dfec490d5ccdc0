import { Option } from 'clipanion';
import { parseDuration } from '../../lifecycle/duration.ts';
import { invalid, QueueError } from '../../lifecycle/error.ts';
import { isFinished, type Job } from '../../lifecycle/job.ts';
import { changeOrTimeout } from '../watch.ts';
import { QueueCommand } from './base.ts';

export class WaitCommand extends QueueCommand {
  static override paths = [['wait']];
  static override usage = QueueCommand.Usage({
    description: 'block until jobs are finished; exit 0 only if all of them completed',
    details: `
      With ids, waits for those jobs. Without, waits until no job is pending, processing or
      failed: every unfinished job, those added while it waits and those due days or years
      ahead (\`--delay\`, \`--run-at\`, schedules' next runs are not jobs yet) included.

      \`--due\` waits only for the jobs that are due now (their start time has come, or they
      are running or waiting for a retry), and the jobs that wait for them (\`--after\`), as
      they are when it starts.

      Exits 0 if every job waited for completed, 4 if any ended dead or cancelled (they are
      named on stderr), 75 if \`--timeout\` passed first.
    `,
    examples: [
      ['Wait for two jobs', '$0 wait build test'],
      ['Wait for the whole queue, at most ten minutes', '$0 wait --timeout 10m'],
      ['Wait for what is due now, not for jobs delayed until later', '$0 wait --due'],
    ],
  });

  timeout = Option.String('--timeout', { description: 'give up after this long, such as 10m' });
  due = Option.Boolean('--due', false, { description: 'only jobs due now, and those that wait for them' });
  ids = Option.Rest({ name: 'ID' });

  async run() {
    const deadline = this.timeout === undefined ? Infinity : Date.now() + parseDuration(this.timeout);
    if (this.due && this.ids.length > 0) throw invalid('give job ids or --due, not both');
    const initial = (await this.store.readJobs()).jobs;
    // The store's clock: on PostgreSQL, due times are the database's.
    if (this.due) return this.waitFor(dueWork(initial, this.store.now()), deadline);
    // Without ids, the work to wait for is what is unfinished now, plus whatever is added meanwhile.
    const ignore = new Set(this.ids.length > 0 ? [] : initial.filter(isFinished).map((job) => job.id));
    // Every job waited for, by id: one that finishes may leave jobs.json for the archive meanwhile.
    const waited = new Set<string>();
    for (;;) {
      let watched: Job[];
      if (this.ids.length > 0) {
        watched = (await this.store.lookupJobs(this.ids));
      } else {
        watched = (await this.store.readJobs()).jobs.filter((job) => !ignore.has(job.id));
        for (const job of watched) waited.add(job.id);
      }
      const open = watched.filter((job) => !isFinished(job));
      if (open.length === 0) {
        if (this.ids.length > 0 || watched.length === waited.size) return this.verdict(watched, []);
        const found = (await this.store.lookupJobs([...waited], { skipMissing: true }));
        const present = new Set(found.map((job) => job.id));
        return this.verdict(found, [...waited].filter((id) => !present.has(id)));
      }
      if (Date.now() >= deadline) {
        throw new QueueError('busy', `timed out after ${this.timeout}; still waiting for ${open.map((job) => `${job.id} (${job.state})`).join(', ')}`);
      }
      await changeOrTimeout(this.store, [], Math.min(500, deadline - Date.now()));
    }
  }

  /** `--due`: the jobs found at the start, until each is finished or removed. */
  private async waitFor(ids: readonly string[], deadline: number): Promise<number> {
    for (;;) {
      const found = await this.store.lookupJobs(ids, { skipMissing: true });
      const open = found.filter((job) => !isFinished(job));
      if (open.length === 0) {
        const present = new Set(found.map((job) => job.id));
        return this.verdict(found, ids.filter((id) => !present.has(id)));
      }
      if (Date.now() >= deadline) {
        throw new QueueError('busy', `timed out after ${this.timeout}; still waiting for ${open.map((job) => `${job.id} (${job.state})`).join(', ')}`);
      }
      await changeOrTimeout(this.store, [], Math.min(500, deadline - Date.now()));
    }
  }

  /** `removed`: jobs waited for that were deleted (`dlq purge`, `clean`) before they completed. */
  private verdict(jobs: readonly Job[], removed: readonly string[]): number {
    const bad = jobs.filter((job) => job.state !== 'completed');
    for (const job of bad) this.context.stderr.write(`queuectl: job ${job.id} is ${job.state}${job.last_error ? `: ${job.last_error}` : ''}\n`);
    for (const id of removed) this.context.stderr.write(`queuectl: job ${id} was removed from the queue\n`);
    const total = jobs.length + removed.length;
    const failed = bad.length + removed.length;
    this.out(failed === 0 ? `${total} job${total === 1 ? '' : 's'} completed` : `${total - failed} of ${total} jobs completed`);
    return failed === 0 ? 0 : 4;
  }
}

/**
 * The ids of the unfinished jobs due at `now` (started, retrying, or their start time come) and
 * of every unfinished job that waits for one of them, directly or through others.
 */
export function dueWork(jobs: readonly Job[], now: Date): string[] {
  const open = jobs.filter((job) => !isFinished(job));
  const due = new Set(open.filter((job) => job.state !== 'pending' || Date.parse(job.run_at) <= now.getTime()).map((job) => job.id));
  for (let grew = true; grew; ) {
    grew = false;
    for (const job of open) {
      if (!due.has(job.id) && job.after.some((id) => due.has(id))) {
        due.add(job.id);
        grew = true;
      }
    }
  }
  return open.filter((job) => due.has(job.id)).map((job) => job.id);
}
