import { Option } from 'clipanion';
import { fullJob } from '../../lifecycle/jobfile/keys.ts';
import { envFromFlags, type Spec } from '../../lifecycle/spec.ts';
import { editJobById } from '../../operations/edit.ts';
import { QueueCommand } from './base.ts';

export class EditCommand extends QueueCommand {
  static override paths = [['edit']];
  static override usage = QueueCommand.Usage({
    description: 'change a job that has not started yet',
    details: `
      Changes the options of a pending job, or of a failed one waiting for its retry, in one
      step: a supervisor starts it either as it was or as edited, never half of each. Every value
      is checked as \`enqueue\` checks it (unknown ids and cycles in \`--after\` included); a bad
      one changes nothing (exit 2). The job keeps its id, its runs so far and its history;
      \`updated_at\` moves.

      Each option replaces that field: \`--env\` (repeatable) gives the job's whole environment,
      \`--after\` its whole list of dependencies (\`--after ''\` for none). \`--timeout off\` and
      \`--backoff-max off\` drop the job's own limit. A job that is running or has finished is
      refused (exit 4); an unknown id exits 3.
    `,
    examples: [
      ['Fix the command of a waiting job', '$0 edit job1 --command "make test"'],
      ['Run it first, in an hour', '$0 edit job1 --priority 10 --delay 1h'],
      ['Make it wait for another job, in another queue', '$0 edit deploy --after build,test --queue deploys'],
      ['Give a failing job more runs and a longer time limit', '$0 edit flaky --max-retries 6 --timeout 10m'],
    ],
  });

  id = Option.String({ required: true });
  command = Option.String('--command', { description: 'the shell command to run instead' });
  priority = Option.String('--priority', { description: 'higher runs first' });
  runAt = Option.String('--run-at', { description: 'do not start before this ISO 8601 time' });
  delay = Option.String('--delay', { description: 'do not start before this long from now, such as 10s or 5m' });
  queue = Option.String('--queue,-q', { description: 'the queue to run in' });
  after = Option.String('--after', { description: 'start only after these jobs completed, such as build,lint (replaces the list)' });
  env = Option.Array('--env', { description: 'KEY=VALUE: the job\'s environment (repeatable; replaces it)' });
  timeout = Option.String('--timeout', { description: 'kill the job after this long, such as 30s or 5m, or off' });
  maxRetries = Option.String('--max-retries', { description: 'runs the job gets in all, counting those it has had' });
  noRetryOn = Option.String('--no-retry-on', { description: 'exit codes that go straight to the DLQ, such as 2,126,127' });
  backoffMax = Option.String('--backoff-max', { description: 'the longest wait between its retries, such as 10m, or off' });
  backoffJitter = Option.String('--backoff-jitter', { description: 'from 0 to 1: shorten each wait by up to this fraction, at random' });
  asJson = Option.Boolean('--json', false, { description: 'print the edited job as JSON' });

  private spec(): Spec {
    const flags: Spec = {
      command: this.command,
      priority: this.priority,
      run_at: this.runAt,
      delay: this.delay,
      queue: this.queue,
      after: this.after,
      env: this.env === undefined ? undefined : envFromFlags(this.env),
      timeout: this.timeout,
      max_retries: this.maxRetries,
      no_retry_on: this.noRetryOn,
      backoff_max: this.backoffMax,
      backoff_jitter: this.backoffJitter,
    };
    return Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
  }

  async run() {
    const { job, changed, ended } = await editJobById(this.store, this.id, this.spec());
    if (ended) this.context.stderr.write(`queuectl: job ${job.id} is cancelled at once (${job.last_error})\n`);
    if (this.asJson) this.json(fullJob(job));
    else this.out(`edited ${job.id}: ${changed.map((key) => key.replace(/_/g, '-')).join(', ')}`);
  }
}
