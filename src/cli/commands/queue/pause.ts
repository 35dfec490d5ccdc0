import { Option } from 'clipanion';
import { checkKnownQueue, EVERY_QUEUE, everyQueuePaused, ownSettings, queueNames, withQueue, type Queues } from '../../../lifecycle/queue.ts';
import { QueueCommand } from '../base.ts';

interface Change {
  name: string;
  changed: boolean;
}

/** Pauses or resumes the named queues (each must exist), and says what changed. */
async function setNamed(command: QueueCommand, names: readonly string[], paused: boolean): Promise<void> {
  const { changed, everyPaused } = await command.store.transact((doc) => {
    const known = queueNames(doc.jobs, doc.queues);
    const targets = [...new Set(names)].map((name) => checkKnownQueue(name, known));
    const changes = targets.map((name): Change => {
      const was = ownSettings(doc.queues, name).paused;
      doc.queues = withQueue(doc.queues, name, { paused });
      return { name, changed: was !== paused };
    });
    return { changed: changes, everyPaused: everyQueuePaused(doc.queues) };
  });
  const word = paused ? 'paused' : 'resumed';
  const already = paused ? 'paused' : 'active';
  command.out(changed.map(({ name, changed: did }) => (did ? `${word} ${name}` : `${name} was already ${already}`)).join('\n'));
  if (!paused && everyPaused) command.context.stderr.write('queuectl: every queue is still paused (queue pause without a name); queuectl queue resume without a name lifts it\n');
}

/**
 * Without a name: pauses every queue, those first used later included (the `*` entry); or
 * resumes every queue, lifting that pause and each queue's own.
 */
async function setEvery(command: QueueCommand, paused: boolean): Promise<void> {
  const resumed = await command.store.transact((doc) => {
    const was = everyQueuePaused(doc.queues);
    if (paused) {
      doc.queues = withQueue(doc.queues, EVERY_QUEUE, { paused: true });
      return { every: was !== paused, names: [] as string[] };
    }
    const own = queueNames(doc.jobs, doc.queues).filter((name) => ownSettings(doc.queues, name).paused);
    let queues: Queues | undefined = withQueue(doc.queues, EVERY_QUEUE, { paused: false });
    for (const name of own) queues = withQueue(queues, name, { paused: false });
    doc.queues = queues;
    return { every: was, names: own };
  });
  if (paused) return command.out(resumed.every ? 'paused every queue, and any queue first used later, until queuectl queue resume' : 'every queue was already paused');
  const lines = [...(resumed.every ? ['resumed every queue'] : []), ...resumed.names.map((name) => `resumed ${name}`)];
  command.out(lines.length > 0 ? lines.join('\n') : 'every queue was already active');
}

/** `queue pause` / `queue resume`: named queues, or every queue without a name. */
export function setPaused(command: QueueCommand, names: readonly string[], paused: boolean): Promise<void> {
  return names.length > 0 ? setNamed(command, names, paused) : setEvery(command, paused);
}

export class QueuePauseCommand extends QueueCommand {
  static override paths = [['queue', 'pause']];
  static override usage = QueueCommand.Usage({
    category: 'Queues',
    description: 'stop starting new jobs of a queue, or of every queue (running ones finish)',
    details: `
      A paused queue starts nothing new on any supervisor until \`queue resume\`; its running
      jobs finish and their results are recorded. The pause is kept with the queue (in jobs.json
      or the database), so it survives restarts of every supervisor.

      A name must be a queue that exists (\`queuectl queue list\`): a mistyped one is refused. Without
      a name, every queue is paused, those first used later included, until \`queue resume\`
      without a name.
    `,
    examples: [
      ['Pause one queue', '$0 queue pause gpu'],
      ['Pause every queue, now and later', '$0 queue pause'],
    ],
  });

  names = Option.Rest({ name: 'NAME' });

  async run() {
    await setPaused(this, this.names, true);
  }
}
