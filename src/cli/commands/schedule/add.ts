import { Option } from 'clipanion';
import { checkCron, checkTimeZone, loadCron } from '../../../lifecycle/cron.ts';
import { invalid, QueueError } from '../../../lifecycle/error.ts';
import { checkScheduleName, createSchedule, type JobTemplate } from '../../../lifecycle/schedule.ts';
import { commandFromWords, envFromFlags, jobFromSpec, shellQuote } from '../../../lifecycle/spec.ts';
import { relativeTime } from '../../../lifecycle/duration.ts';
import { QueueCommand } from '../base.ts';

export class ScheduleAddCommand extends QueueCommand {
  static override paths = [['schedule', 'add']];
  static override usage = QueueCommand.Usage({
    category: 'Schedules',
    description: 'run a command on a cron schedule',
    details: `
      \`--cron\` takes a five-field cron expression (minute hour day-of-month month day-of-week,
      as in crontab; a sixth field in front gives seconds), read in \`--tz\` (an IANA zone such as
      Europe/Berlin, with its daylight saving changes; default UTC).

      Each firing enqueues one job, with the options given here, whose id is the schedule's name
      and the firing time (\`nightly@20261201T030000Z\`), exactly once however many supervisors
      run. A supervisor must be running for a schedule to fire; firings missed while none ran
      give one catch-up run when one starts, not one per missed firing.
    `,
    examples: [
      ['Back up every night at 03:00, Berlin time', '$0 schedule add nightly --cron "0 3 * * *" --tz Europe/Berlin -- ./backup.sh'],
      ['Every five minutes, in the reports queue', '$0 schedule add sync --cron "*/5 * * * *" --queue reports -- ./sync.sh'],
    ],
  });

  name = Option.String();
  cron = Option.String('--cron', { description: 'when to fire, such as "*/5 * * * *"' });
  tz = Option.String('--tz', { description: 'the time zone of the expression, such as Europe/Berlin (default UTC)' });
  maxRetries = Option.String('--max-retries', { description: 'runs each job gets before it is dead, at least 1 (default: config max-retries)' });
  priority = Option.String('--priority', { description: 'higher runs first (default 0)' });
  timeout = Option.String('--timeout', { description: 'kill a job after this long, such as 30s or 5m' });
  noRetryOn = Option.String('--no-retry-on', { description: 'exit codes that go straight to the DLQ, such as 2,126,127' });
  queue = Option.String('--queue,-q', { description: 'the queue its jobs run in (default: default)' });
  env = Option.Array('--env', { description: 'a variable for its jobs\' runs (repeatable)' });
  words = Option.Rest();

  async run() {
    const name = checkScheduleName(this.name);
    if (this.cron === undefined) throw invalid(`give the times with --cron, such as: queuectl schedule add ${name} --cron "*/5 * * * *" -- CMD`);
    const afterSeparator = this.context.argv.includes('--') ? this.context.argv.length - this.context.argv.indexOf('--') - 1 : 0;
    if (this.words.length === 0 || afterSeparator !== this.words.length) {
      throw invalid(`put the command after --, as in: queuectl schedule add ${name} --cron ${shellQuote(this.cron)} -- ${this.words.map(shellQuote).join(' ') || 'CMD'}`);
    }
    const tz = this.tz === undefined ? null : checkTimeZone(this.tz);
    await checkCron(this.cron, tz);
    const spec = { command: commandFromWords(this.words), max_retries: this.maxRetries, priority: this.priority, timeout: this.timeout, no_retry_on: this.noRetryOn, queue: this.queue, env: this.env && envFromFlags(this.env) };
    const job = jobFromSpec(Object.fromEntries(Object.entries(spec).filter(([, value]) => value !== undefined)), { config: (await this.store.readConfig()), cwd: this.context.cwd, now: this.context.now() });
    const template: JobTemplate = { command: job.command, cwd: job.cwd, max_retries: job.max_retries, priority: job.priority, queue: job.queue ?? 'default', timeout: job.timeout, no_retry_on: job.no_retry_on, env: job.env ?? {} };
    const rules = await loadCron();
    const now = this.context.now();
    const added = await this.store.transact((doc) => {
      if (doc.schedules?.some((schedule) => schedule.name === name)) {
        throw new QueueError('conflict', `a schedule named "${name}" already exists; remove it first (queuectl schedule remove ${name}) or choose another name`);
      }
      const schedule = createSchedule({ name, cron: this.cron!, tz, job: template }, rules, now);
      doc.schedules = [...(doc.schedules ?? []), schedule];
      return schedule;
    });
    this.out(`schedule ${name} added; first firing at ${added.next_at} (${relativeTime(added.next_at, now)})`);
  }
}
