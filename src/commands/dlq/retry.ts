import { Option } from 'clipanion';
import { invalid, QueueError } from '../../error.ts';
import { retryJob } from '../../job.ts';
import { transact } from '../../store.ts';
import { QueueCommand } from '../base.ts';

export class DlqRetryCommand extends QueueCommand {
  static override paths = [['dlq', 'retry']];
  static override usage = QueueCommand.Usage({
    category: 'Dead letter queue',
    description: 'put dead jobs back in the queue with a fresh set of attempts',
    details: `
      The job goes back to \`pending\` with \`attempts\` reset to 0; its history and last error
      are kept. It keeps its own \`max_retries\`.
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
    const retried = await transact(this.store, (doc) => {
      const now = this.context.now();
      const wanted = this.all ? doc.jobs.filter((job) => job.state === 'dead').map((job) => job.id) : this.ids;
      for (const id of wanted) {
        const job = doc.jobs.find((candidate) => candidate.id === id);
        if (!job) throw new QueueError('not-found', `no job with id "${id}"`);
        if (job.state !== 'dead') throw new QueueError('conflict', `job "${id}" is ${job.state}, not dead; only dead jobs can be retried`);
      }
      const set = new Set(wanted);
      doc.jobs = doc.jobs.map((job) => (set.has(job.id) ? retryJob(job, now) : job));
      return wanted;
    });
    this.out(retried.length === 0 ? 'the dead letter queue is empty: nothing to retry' : retried.map((id) => `retrying ${id}`).join('\n'));
  }
}
