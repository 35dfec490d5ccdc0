import { Option } from 'clipanion';
import { invalid } from '../../../lifecycle/error.ts';
import { checkQueueName, parseParallel, withQueue } from '../../../lifecycle/queue.ts';
import { QueueCommand } from '../base.ts';

export class QueueSetCommand extends QueueCommand {
  static override paths = [['queue', 'set']];
  static override usage = QueueCommand.Usage({
    category: 'Queues',
    description: 'limit how many jobs of a queue run at once, across every supervisor',
    details: `
      \`--parallel N\` lets at most N jobs of the queue run at the same time, however many
      supervisors and workers there are; \`0\` or \`off\` removes the limit. Jobs already running
      finish; the limit applies to the next starts. The setting is kept in jobs.json.
    `,
    examples: [
      ['Run GPU jobs one at a time', '$0 queue set gpu --parallel 1'],
      ['Remove the limit', '$0 queue set gpu --parallel off'],
    ],
  });

  name = Option.String();
  parallel = Option.String('--parallel,-p', { description: 'at most this many at once, such as 1 or 4; 0 or off: no limit' });

  async run() {
    const name = checkQueueName(this.name);
    if (this.parallel === undefined) throw invalid(`give the limit, such as: queuectl queue set ${name} --parallel 1 (or --parallel off)`);
    const parallel = parseParallel(this.parallel);
    await this.store.transact((doc) => {
      doc.queues = withQueue(doc.queues, name, { parallel });
    });
    this.out(parallel === null ? `queue ${name}: no limit` : `queue ${name}: at most ${parallel} job${parallel === 1 ? '' : 's'} at once`);
  }
}
