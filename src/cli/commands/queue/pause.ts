import { Option } from 'clipanion';
import { checkQueueName, queueNames, settingsOf, withQueue } from '../../../lifecycle/queue.ts';
import { QueueCommand } from '../base.ts';

/** Pauses or resumes the named queues, or every queue there is, and says what changed. */
export async function setPaused(command: QueueCommand, names: readonly string[], paused: boolean): Promise<void> {
  const wanted = names.map(checkQueueName);
  const changed = await command.store.transact((doc) => {
    const targets = wanted.length > 0 ? [...new Set(wanted)] : queueNames(doc.jobs, doc.queues);
    return targets.map((name) => {
      const was = settingsOf(doc.queues, name).paused;
      doc.queues = withQueue(doc.queues, name, { paused });
      return { name, changed: was !== paused };
    });
  });
  const word = paused ? 'paused' : 'resumed';
  const already = paused ? 'paused' : 'active';
  // Without names, only the queues that changed are worth a line.
  const shown = wanted.length > 0 ? changed : changed.filter((entry) => entry.changed);
  if (shown.length === 0) return command.out(`every queue was already ${already}`);
  command.out(shown.map(({ name, changed: did }) => (did ? `${word} ${name}` : `${name} was already ${already}`)).join('\n'));
}

export class QueuePauseCommand extends QueueCommand {
  static override paths = [['queue', 'pause']];
  static override usage = QueueCommand.Usage({
    category: 'Queues',
    description: 'stop starting new jobs of a queue (running ones finish)',
    details: `
      A paused queue starts nothing new on any supervisor until \`queue resume\`; its running
      jobs finish and their results are recorded. The pause is kept in jobs.json, so it survives
      restarts of every supervisor. Without a name, every queue there is now is paused (the
      \`default\` queue and those that jobs or settings name); a queue first used later is not.
    `,
    examples: [
      ['Pause one queue', '$0 queue pause gpu'],
      ['Pause every queue', '$0 queue pause'],
    ],
  });

  names = Option.Rest();

  async run() {
    await setPaused(this, this.names, true);
  }
}
