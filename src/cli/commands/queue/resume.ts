import { Option } from 'clipanion';
import { QueueCommand } from '../base.ts';
import { setPaused } from './pause.ts';

export class QueueResumeCommand extends QueueCommand {
  static override paths = [['queue', 'resume']];
  static override usage = QueueCommand.Usage({
    category: 'Queues',
    description: 'let paused queues start jobs again',
    details: `
      Supervisors that are running start the queue's due jobs at once. A name must be a queue
      that exists. Without a name, every queue is resumed: the pause of \`queue pause\` without a
      name is lifted, and so is each queue's own. While every queue is paused, resuming one
      queue by name leaves it paused with the rest.
    `,
    examples: [
      ['Resume one queue', '$0 queue resume gpu'],
      ['Resume every queue', '$0 queue resume'],
    ],
  });

  names = Option.Rest({ name: 'NAME' });

  async run() {
    await setPaused(this, this.names, false);
  }
}
