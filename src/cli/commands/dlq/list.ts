import { Option } from 'clipanion';
import { fullJob } from '../../../lifecycle/jobfile/keys.ts';
import { renderJobs } from '../../view.ts';
import { QueueCommand } from '../base.ts';

export class DlqListCommand extends QueueCommand {
  static override paths = [['dlq', 'list']];
  static override usage = QueueCommand.Usage({
    category: 'Dead letter queue',
    description: 'list dead jobs: those that failed every run they had',
    examples: [
      ['List dead jobs', '$0 dlq list'],
      ['As a JSON array', '$0 dlq list --json'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print a JSON array' });

  async run() {
    const dead = (await this.store.readJobs()).jobs.filter((job) => job.state === 'dead');
    if (this.asJson) return this.json(dead.map(fullJob));
    if (dead.length === 0) return this.out('the dead letter queue is empty');
    this.context.stdout.write(renderJobs(dead, this.context.now()));
  }
}
