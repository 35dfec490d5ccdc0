import { Option } from 'clipanion';
import { formatDuration } from '../../lifecycle/duration.ts';
import { displayPath } from '../../store/home.ts';
import { MAX_RECOVERIES, type Job } from '../../lifecycle/job.ts';
import { fullJob } from '../../lifecycle/jobfile/keys.ts';
import { logFile } from '../../supervisor/joblog.ts';
import { renderTable } from '../table.ts';
import { relativeTime } from '../../lifecycle/duration.ts';
import { shellQuote } from '../../lifecycle/spec.ts';
import { waitingFor } from '../../lifecycle/workflow.ts';
import { QueueCommand } from './base.ts';

/** Interrupted runs spend no attempt; only crashes count towards the poison-pill limit. */
function interruptions(job: Job): string {
  const runs = job.history.filter((attempt) => attempt.outcome === 'interrupted').length;
  if (runs === 0 && job.recoveries === 0) return '';
  const crashes = job.recoveries ? ` (${job.recoveries} by a crash; ${MAX_RECOVERIES} crashes make it dead)` : '';
  return `, ${runs} run${runs === 1 ? '' : 's'} interrupted${crashes}`;
}

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
    const when = (iso: string | null) => (iso ? `${iso} (${relativeTime(iso, now)})` : '-');
    const fields: [string, string][] = [
      ['id', job.id],
      ['state', job.state],
      ['command', job.command],
      ['cwd', job.cwd],
      ['env', Object.keys(job.env).length ? Object.entries(job.env).map(([name, value]) => shellQuote(`${name}=${value}`)).join(' ') : '-'],
      ['runs', `${job.attempts} of ${Math.max(1, job.max_retries)}${interruptions(job)}`],
      ['priority', String(job.priority)],
      ['queue', job.queue],
      ['after', job.after.length ? job.after.map((id) => `${id} (${dependencies.get(id)?.state ?? 'gone'})`).join(', ') : '-'],
      ['waiting for', (job.state === 'pending' || job.state === 'failed') && waitingFor(job, dependencies).length ? waitingFor(job, dependencies).join(', ') : '-'],
      ['schedule', job.schedule ?? '-'],
      ['timeout', job.timeout ?? 'none'],
      ['no retry on', job.no_retry_on.length ? job.no_retry_on.join(',') : '-'],
      ['created', when(job.created_at)],
      [job.state === 'pending' || job.state === 'failed' ? 'due' : 'run at', when(job.run_at)],
      ['started', when(job.started_at)],
      ['finished', when(job.finished_at)],
      ['last error', job.last_error ?? '-'],
      ['running on', job.owner ? `supervisor ${job.owner.pid} on ${job.owner.host}, worker ${job.owner.worker}` : '-'],
      ['log', displayPath(logFile(this.store.home, job.id), this.context.cwd)],
    ];
    const width = Math.max(...fields.map(([name]) => name.length));
    this.out(fields.map(([name, value]) => `${`${name}:`.padEnd(width + 2)}${value}`).join('\n'));
    if (job.history.length === 0) return this.out('\nno runs yet');
    const rows = job.history.map((attempt, index) => [
      String(index + 1),
      attempt.started_at,
      formatDuration(attempt.duration_ms),
      attempt.outcome,
      attempt.exit_code === null ? (attempt.signal ?? '-') : String(attempt.exit_code),
      attempt.retry_at ? `retry ${relativeTime(attempt.retry_at, now)}` : '',
      attempt.error ?? '',
    ]);
    this.context.stdout.write(`\n${renderTable(['RUN', 'STARTED', 'TOOK', 'OUTCOME', 'EXIT', 'NEXT', 'ERROR'], rows)}`);
  }
}
