import { Option } from 'clipanion';
import { cancelJobs } from '../../operations/cancel.ts';
import { QueueCommand } from './base.ts';

export class CancelCommand extends QueueCommand {
  static override paths = [['cancel']];
  static override usage = QueueCommand.Usage({
    description: 'cancel jobs: they will not run (again); a running job is killed first',
    details: `
      A pending, scheduled or failed job becomes \`cancelled\` and stays visible in \`list\`.
      A processing job becomes \`cancelled\` and its processes get SIGTERM, then SIGKILL after
      \`kill-grace\`; the command waits until they are gone.
    `,
    examples: [
      ['Cancel a job', '$0 cancel job1'],
      ['Cancel several', '$0 cancel job1 job2'],
    ],
  });

  ids = Option.Rest({ required: 1 });

  async run() {
    await cancelJobs(this.store, this.ids, (line) => this.context.stderr.write(`queuectl: ${line}\n`));
    this.out(this.ids.map((id) => `cancelled ${id}`).join('\n'));
  }
}
