import { Option } from 'clipanion';
import { QueueError } from '../../../lifecycle/error.ts';
import { QueueCommand } from '../base.ts';

export class ScheduleRemoveCommand extends QueueCommand {
  static override paths = [['schedule', 'remove'], ['schedule', 'rm']];
  static override usage = QueueCommand.Usage({
    category: 'Schedules',
    description: 'stop a schedule from firing (the jobs it enqueued stay)',
    examples: [['Remove a schedule', '$0 schedule remove nightly']],
  });

  name = Option.String();

  async run() {
    await this.store.transact((doc) => {
      const schedules = doc.schedules ?? [];
      if (!schedules.some((schedule) => schedule.name === this.name)) {
        const known = schedules.map((schedule) => schedule.name);
        throw new QueueError('not-found', `no schedule named "${this.name}"; ${known.length > 0 ? `there are: ${known.join(', ')}` : 'there are none'} (see queuectl schedule list)`);
      }
      doc.schedules = schedules.filter((schedule) => schedule.name !== this.name);
    });
    this.out(`removed schedule ${this.name}`);
  }
}
