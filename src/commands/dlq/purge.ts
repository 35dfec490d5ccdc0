import { Option } from 'clipanion';
import { parseDuration } from '../../duration.ts';
import { transact } from '../../store.ts';
import { QueueCommand } from '../base.ts';

export class DlqPurgeCommand extends QueueCommand {
  static override paths = [['dlq', 'purge']];
  static override usage = QueueCommand.Usage({
    category: 'Dead letter queue',
    description: 'delete dead jobs for good',
    examples: [
      ['Delete every dead job', '$0 dlq purge'],
      ['Delete dead jobs that died over a week ago', '$0 dlq purge --older-than 7d'],
    ],
  });

  olderThan = Option.String('--older-than', { description: 'only jobs dead for at least this long, such as 7d' });

  async run() {
    const age = this.olderThan === undefined ? 0 : parseDuration(this.olderThan);
    const purged = await transact(this.store, (doc) => {
      const cutoff = this.context.now().getTime() - age;
      const doomed = doc.jobs.filter((job) => job.state === 'dead' && Date.parse(job.updated_at) <= cutoff);
      const ids = new Set(doomed.map((job) => job.id));
      doc.jobs = doc.jobs.filter((job) => !ids.has(job.id));
      return doomed.length;
    });
    this.out(`purged ${purged} dead job${purged === 1 ? '' : 's'}`);
  }
}
