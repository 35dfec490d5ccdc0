import { Option } from 'clipanion';
import { JsonArrayWriter } from '../../json-array.ts';
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
    const query = { states: ['dead'] as const, order: 'created' } as const;
    if (this.asJson) {
      const array = new JsonArrayWriter(this.context.stdout);
      await this.store.streamJobs(query, undefined, (jobs) => array.add(jobs));
      return array.end();
    }
    // Dead jobs wait for nothing: their "when" needs no dependencies.
    const dead = await this.store.pageJobs(query, { offset: 0 });
    if (dead.length === 0) return this.out('the dead letter queue is empty');
    this.context.stdout.write(renderJobs(dead, this.context.now(), new Map()));
  }
}
