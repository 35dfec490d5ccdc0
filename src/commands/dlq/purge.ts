import { Option } from 'clipanion';
import { parseDuration } from '../../duration.ts';
import { invalid } from '../../error.ts';
import { expiredJobs } from '../../job.ts';
import { readJobs } from '../../store.ts';
import { QueueCommand } from '../base.ts';
import { removeExpired } from '../clean.ts';

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
    let age = 0;
    try {
      if (this.olderThan !== undefined) age = parseDuration(this.olderThan);
    } catch (error) {
      throw invalid(`--older-than: ${(error as Error).message}`);
    }
    // A lock-free look first: with nothing to purge, the store is neither locked nor created.
    const due = expiredJobs(readJobs(this.store).jobs, ['dead'], this.context.now().getTime() - age);
    const purged = due.length === 0 ? 0 : await removeExpired(this, ['dead'], this.olderThan);
    this.out(`purged ${purged} dead job${purged === 1 ? '' : 's'}`);
  }
}
