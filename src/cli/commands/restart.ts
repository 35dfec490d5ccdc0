import { Option } from 'clipanion';
import { restartJobs } from '../../operations/restart.ts';
import { QueueCommand } from './base.ts';

export class RestartCommand extends QueueCommand {
  static override paths = [['restart']];
  static override usage = QueueCommand.Usage({
    description: 'put finished jobs (completed, dead or cancelled) back in the queue',
    details: `
      Each job goes back to \`pending\`, due now, with a fresh set of runs (\`attempts\` and
      \`recoveries\` reset to 0). Its id, command, options, history and log are kept. A job that
      is pending, failed (waiting for a retry) or processing is refused. With several ids, either
      every job is restarted or none is.

      An archived job (see \`keep-finished\`) comes back into jobs.json at its place by creation.

      Jobs that never ran because this one ended dead or cancelled (they waited for it with
      \`--after\`) go back to pending too, waiting for it again: the chain goes on.
    `,
    examples: [
      ['Run a completed job again', '$0 restart job1'],
      ['Restart several jobs', '$0 restart job1 job2'],
    ],
  });

  ids = Option.Rest({ required: 1 });

  async run() {
    const revived: string[] = [];
    const ids = await restartJobs(this.store, this.ids, revived);
    this.out([...ids.map((id) => `restarted ${id}`), ...revived.map((id) => `waiting again: ${id}`)].join('\n'));
  }
}
