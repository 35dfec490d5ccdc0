import { Option } from 'clipanion';
import { displayPath } from '../../store/home.ts';
import { fullJob } from '../../lifecycle/jobfile/keys.ts';
import { logFile, readRuns } from '../../supervisor/joblog.ts';
import { jobFields, RUN_COLUMNS, runRows, runStart } from '../jobview.ts';
import { renderTable } from '../table.ts';
import { QueueCommand } from './base.ts';

export class ShowCommand extends QueueCommand {
  static override paths = [['show']];
  static override usage = QueueCommand.Usage({
    description: 'show everything about one job, with the history of its runs',
    examples: [
      ['Show a job', '$0 show job1'],
      ['The job object as JSON', '$0 show job1 --json'],
    ],
  });

  id = Option.String();
  asJson = Option.Boolean('--json', false, { description: 'print the job object as JSON' });

  async run() {
    const job = (await this.store.lookupJobs([this.id]))[0]!;
    if (this.asJson) return this.json(fullJob(job));
    const dependencies = new Map((await this.store.lookupJobs(job.after, { skipMissing: true })).map((dep) => [dep.id, dep]));
    const now = this.context.now();
    const fields = jobFields(job, dependencies, now, displayPath(logFile(this.store.home, job.id), this.context.cwd), runStart(job, () => readRuns(this.store.home, job)));
    const width = Math.max(...fields.map(([name]) => name.length));
    this.out(fields.map(([name, value]) => `${`${name}:`.padEnd(width + 2)}${value}`).join('\n'));
    if (job.history.length === 0) return this.out('\nno runs yet');
    this.context.stdout.write(`\n${renderTable([...RUN_COLUMNS], runRows(job, now))}`);
  }
}
