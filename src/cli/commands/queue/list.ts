import { Option } from 'clipanion';
import { STATES } from '../../../lifecycle/job.ts';
import { everyQueuePaused, summarizeQueues } from '../../../lifecycle/queue.ts';
import { renderTable } from '../../table.ts';
import { QueueCommand } from '../base.ts';

export class QueueListCommand extends QueueCommand {
  static override paths = [['queue', 'list']];
  static override usage = QueueCommand.Usage({
    category: 'Queues',
    description: 'list the queues with their job counts, limits and whether they are paused',
    details: `
      Every job runs in one queue: \`default\`, or the one \`enqueue --queue NAME\` gave it. A
      queue exists once a job uses it or it has a setting. LIMIT is how many of its jobs may run
      at once across every supervisor (\`queue set NAME --parallel N\`); PAUSED queues start
      nothing new (\`queue pause\`); after \`queue pause\` without a name, every queue is, and a
      line under the table says so.
    `,
    examples: [
      ['List the queues', '$0 queue list'],
      ['As a JSON array', '$0 queue list --json'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print a JSON array' });

  async run() {
    const { jobs, queues } = (await this.store.readJobs());
    const summaries = summarizeQueues(jobs, queues, STATES);
    if (this.asJson) return this.json(summaries);
    const rows = summaries.map(({ name, counts, parallel, paused }) => [
      name,
      String(counts.pending + counts.failed),
      String(counts.processing),
      String(counts.completed),
      String(counts.dead),
      parallel === null ? '-' : String(parallel),
      paused ? 'paused' : 'active',
    ]);
    this.context.stdout.write(renderTable(['QUEUE', 'WAITING', 'RUNNING', 'COMPLETED', 'DEAD', 'LIMIT', 'STATE'], rows));
    if (everyQueuePaused(queues)) this.out('every queue is paused, those first used later included (queuectl queue resume lifts it)');
  }
}
