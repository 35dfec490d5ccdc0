import { Option } from 'clipanion';
import { invalid } from '../../../lifecycle/error.ts';
import { QueueCommand } from '../base.ts';

export class WorkerStartCommand extends QueueCommand {
  static override paths = [['worker', 'start']];
  static override usage = QueueCommand.Usage({
    category: 'Workers',
    description: 'run jobs in the foreground with N workers until stopped',
    details: `
      Starts a supervisor that runs jobs with \`--count\` workers, each one job at a time, and
      logs one line per event on stderr. Several supervisors may run against the same store.

      Ctrl+C (SIGINT), SIGTERM, SIGHUP or \`queuectl worker stop\` drain it: no new job starts,
      running jobs finish and are recorded, then it exits 0. A second signal forces: running
      jobs get SIGTERM, then SIGKILL after \`kill-grace\`, and go back to pending without
      using up one of their runs.
    `,
    examples: [
      ['Run jobs with three workers', '$0 worker start --count 3'],
      ['Run jobs from another store', 'QUEUECTL_HOME=/srv/queue/.queuectl $0 worker start'],
    ],
  });

  count = Option.String('--count,-c', '1', { description: 'how many jobs run at once (default 1)' });

  async run() {
    if (!/^\d+$/.test(this.count) || Number(this.count) < 1 || Number(this.count) > 256) {
      throw invalid(`--count must be a whole number from 1 to 256, got "${this.count}"`);
    }
    await this.store.prepare();
    const { Supervisor } = await import('../../../supervisor/supervisor.ts');
    const supervisor = new Supervisor({ store: this.store, count: Number(this.count), log: (line) => this.context.stderr.write(`${line}\n`) });
    return supervisor.run();
  }
}
