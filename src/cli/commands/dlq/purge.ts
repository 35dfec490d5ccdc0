import { Option } from 'clipanion';
import { QueueCommand } from '../base.ts';
import { removeExpired } from '../../../operations/clean.ts';

export class DlqPurgeCommand extends QueueCommand {
  static override paths = [['dlq', 'purge']];
  static override usage = QueueCommand.Usage({
    category: 'Dead letter queue',
    description: 'delete dead jobs for good, with their logs',
    examples: [
      ['Delete every dead job', '$0 dlq purge'],
      ['Delete dead jobs that died over a week ago', '$0 dlq purge --older-than 7d'],
    ],
  });

  olderThan = Option.String('--older-than', { description: 'only jobs dead for at least this long, such as 7d' });

  async run() {
    const purged = await removeExpired(this.store, ['dead'], this.olderThan);
    this.out(`purged ${purged} dead job${purged === 1 ? '' : 's'}`);
  }
}
