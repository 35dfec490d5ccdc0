import { Option } from 'clipanion';
import { QueueCommand } from '../base.ts';
import { setPaused } from './pause.ts';

export class QueueResumeCommand extends QueueCommand {
  static override paths = [['queue', 'resume']];
  static override usage = QueueCommand.Usage({
    category: 'Queues',
    description: 'let a paused queue start jobs again',
    details: `
      Supervisors that are running start the queue's due jobs at once. Without a name, every
      paused queue is resumed.
    `,
    examples: [
      ['Resume one queue', '$0 queue resume gpu'],
      ['Resume every queue', '$0 queue resume'],
    ],
  });

  names = Option.Rest();

  async run() {
    await setPaused(this, this.names, false);
  }
}
