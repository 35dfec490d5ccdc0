import { Option } from 'clipanion';
import { invalid } from '../../../lifecycle/error.ts';
import { retryDeadJobs } from '../../../operations/retry.ts';
import { QueueCommand } from '../base.ts';

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
