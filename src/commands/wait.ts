import { Option } from 'clipanion';
import { parseDuration } from '../duration.ts';
import { QueueError } from '../error.ts';
import { isFinished, type Job } from '../job.ts';
import { lookupJobs, readJobs } from '../store.ts';
import { changeOrTimeout } from '../watch.ts';
import { QueueCommand } from './base.ts';

export class WaitCommand extends QueueCommand {
  static override paths = [['wait']];
  static override usage = QueueCommand.Usage({
    description: 'block until jobs are finished; exit 0 only if all of them completed',
    details: `
      With ids, waits for those jobs; without, for all queued work (until no job is pending,
      processing or failed). Exits 0 if every job waited for completed, 4 if any ended dead or
      cancelled (they are named on stderr), 75 if \`--timeout\` passed first.
    `,
    examples: [
      ['Wait for two jobs', '$0 wait build test'],
      ['Wait for the whole queue, at most ten minutes', '$0 wait --timeout 10m'],
    ],
  });

  timeout = Option.String('--timeout', { description: 'give up after this long, such as 10m' });
  ids = Option.Rest();

  async run() {
    const deadline = this.timeout === undefined ? Infinity : Date.now() + parseDuration(this.timeout);
    const initial = readJobs(this.store).jobs;
    // Without ids, the work to wait for is what is unfinished now, plus whatever is added meanwhile.
    const ignore = new Set(this.ids.length > 0 ? [] : initial.filter(isFinished).map((job) => job.id));
    for (;;) {
      const watched = this.ids.length > 0 ? lookupJobs(this.store, this.ids) : readJobs(this.store).jobs.filter((job) => !ignore.has(job.id));
      const open = watched.filter((job) => !isFinished(job));
      if (open.length === 0) return this.verdict(watched);
      if (Date.now() >= deadline) {
        throw new QueueError('busy', `timed out after ${this.timeout}; still waiting for ${open.map((job) => `${job.id} (${job.state})`).join(', ')}`);
      }
      await changeOrTimeout([this.store.home.dir], Math.min(500, deadline - Date.now()));
    }
  }

  private verdict(jobs: readonly Job[]): number {
    const bad = jobs.filter((job) => job.state !== 'completed');
    for (const job of bad) this.context.stderr.write(`queuectl: job ${job.id} is ${job.state}${job.last_error ? `: ${job.last_error}` : ''}\n`);
    this.out(bad.length === 0 ? `${jobs.length} job${jobs.length === 1 ? '' : 's'} completed` : `${jobs.length - bad.length} of ${jobs.length} jobs completed`);
    return bad.length === 0 ? 0 : 4;
  }
}
