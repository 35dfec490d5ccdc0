import { Option } from 'clipanion';
import { invalid, QueueError } from '../../../lifecycle/error.ts';
import { findJob, restartJob, type Job } from '../../../lifecycle/job.ts';
import type { Store } from '../../../store/store.ts';
import { reviveDependents } from '../../../lifecycle/workflow.ts';
import { QueueCommand } from '../base.ts';

/** The ids to retry: every dead job, or the given ids, each of which must name a dead job. */
function deadIds(jobs: readonly Job[], ids: readonly string[] | 'all'): string[] {
  if (ids === 'all') return jobs.filter((job) => job.state === 'dead').map((job) => job.id);
  for (const id of ids) {
    const job = findJob(jobs, id);
    if (job.state !== 'dead') throw new QueueError('conflict', `job "${id}" is ${job.state}, not dead; only dead jobs can be retried`);
  }
  return [...new Set(ids)];
}

/** Puts dead jobs back to pending: the given ids, each of which must be dead, or every dead job. */
export function retryDeadJobs(store: Store, wanted: readonly string[] | 'all', revived: string[] = []): Promise<string[]> {
  return store.transact((doc) => {
    const ids = new Set(deadIds(doc.jobs, wanted));
    const now = store.now();
    doc.jobs = doc.jobs.map((job) => (ids.has(job.id) ? restartJob(job, now) : job));
    // Jobs that never ran because one of these died wait for it again.
    const chain = reviveDependents(doc.jobs, [...ids], now);
    doc.jobs = chain.jobs;
    revived.splice(0, revived.length, ...chain.revived);
    return [...ids];
  });
}

export class DlqRetryCommand extends QueueCommand {
  static override paths = [['dlq', 'retry']];
  static override usage = QueueCommand.Usage({
    category: 'Dead letter queue',
    description: 'put dead jobs back in the queue with a fresh set of runs',
    details: `
      The job goes back to \`pending\` with \`attempts\` reset to 0, so it gets its
      \`max_retries\` runs again; its history and last error are kept. To restart a completed or
      cancelled job as well, see \`queuectl restart\`. Jobs that never ran because this one
      died (they waited for it with \`--after\`) go back to pending too, waiting for it again.
    `,
    examples: [
      ['Retry one dead job', '$0 dlq retry job1'],
      ['Retry every dead job', '$0 dlq retry --all'],
    ],
  });

  all = Option.Boolean('--all', false, { description: 'retry every dead job' });
  ids = Option.Rest();

  async run() {
    if (this.all === (this.ids.length > 0)) throw invalid('give the ids of dead jobs to retry, or --all');
    const wanted = this.all ? 'all' : this.ids;
    const revived: string[] = [];
    const retried = await retryDeadJobs(this.store, wanted, revived);
    this.out(retried.length === 0 ? 'the dead letter queue is empty: nothing to retry' : [...retried.map((id) => `retrying ${id}`), ...revived.map((id) => `waiting again: ${id}`)].join('\n'));
  }
}
