import { Option } from 'clipanion';
import { QueueError, invalid } from '../../lifecycle/error.ts';
import { createJob, type NewJob } from '../../lifecycle/job.ts';
import { fullJob } from '../../lifecycle/jobfile/keys.ts';
import { commandFromWords, envFromFlags, jobFromSpec, parseSpecJson, shellQuote, type Spec } from '../../lifecycle/spec.ts';
import { readInput } from '../input.ts';
import { QueueCommand } from './base.ts';

export class EnqueueCommand extends QueueCommand {
  static override paths = [['enqueue'], ['add']];
  static override usage = QueueCommand.Usage({
    description: 'add a job to the queue',
    details: `
      Give the job as a JSON spec, or give the command after \`--\`, not both. A single word after
      \`--\` is run as a shell command line; several words are run exactly as given. The job runs
      in the current directory (or \`cwd\`). Prints the job id.

      \`max_retries\` is the number of runs the job gets, the first one included: 3 means three
      runs, and it is at least 1. \`--env KEY=VALUE\` (repeatable) sets a variable for this job's
      runs only; QUEUECTL_* names are queuectl's own.

      \`--after ID,ID\` makes the job wait until every job named has completed; if one of them
      ends dead or cancelled, this job never runs (it is cancelled, with the reason), and a later
      \`restart\` or \`dlq retry\` of that job puts it back to waiting. An unknown id or a cycle is
      refused. \`--queue NAME\` puts the job in a named queue (default \`default\`): see
      \`queuectl queue list\` for their limits and pauses.

      JSON keys: id, command, max_retries, priority, run_at, delay, timeout, no_retry_on, cwd,
      env (an object such as {"KEY": "value"}), queue, after (an array of job ids), backoff_max,
      backoff_jitter.
      With \`--file\`, each line of the file (or of stdin for \`-\`) is one JSON spec; either every
      job is added or none is.
    `,
    examples: [
      ['Add a job from a JSON spec', '$0 enqueue \'{"id":"job1","command":"sleep 2"}\''],
      ['Add a command with options', '$0 enqueue --id backup --max-retries 5 -- tar czf backup.tgz src'],
      ['Run a job in ten minutes, with a time limit', '$0 enqueue --delay 10m --timeout 5m -- ./sync.sh'],
      ['Give a job its own environment', '$0 enqueue --env STAGE=prod --env REGION=eu -- ./deploy.sh'],
      ['Run tests once the build has completed', '$0 enqueue --id test --after build -- npm test'],
      ['Put a job in a queue of its own', '$0 enqueue --queue gpu -- ./train.sh'],
      ['Add many jobs from a JSON-lines file', '$0 enqueue --file jobs.jsonl'],
    ],
  });

  id = Option.String('--id', { description: 'the job id (default: a generated one)' });
  maxRetries = Option.String('--max-retries', { description: 'runs the job gets before it is dead, at least 1 (default: config max-retries)' });
  priority = Option.String('--priority', { description: 'higher runs first (default 0)' });
  runAt = Option.String('--run-at', { description: 'do not start before this ISO 8601 time' });
  delay = Option.String('--delay', { description: 'do not start before this long from now, such as 10s or 5m' });
  timeout = Option.String('--timeout', { description: 'kill the job after this long, such as 30s or 5m' });
  noRetryOn = Option.String('--no-retry-on', { description: 'exit codes that go straight to the DLQ, such as 2,126,127' });
  backoffMax = Option.String('--backoff-max', { description: 'the longest wait between its retries, such as 10m (default: config backoff-max)' });
  backoffJitter = Option.String('--backoff-jitter', { description: 'from 0 to 1: shorten each wait by up to this fraction, at random (default: config backoff-jitter)' });
  after = Option.String('--after', { description: 'start only after these jobs completed, such as build,lint' });
  queue = Option.String('--queue,-q', { description: 'the queue to run in (default: default)' });
  env = Option.Array('--env', { description: 'a variable for this job\'s runs (repeatable)' });
  file = Option.String('--file,-f', { description: 'read JSON-lines specs from a file, or - for stdin' });
  asJson = Option.Boolean('--json', false, { description: 'print the new jobs as JSON' });
  words = Option.Rest();

  private flagSpec(): Spec {
    const flags: Spec = {
      id: this.id,
      max_retries: this.maxRetries,
      priority: this.priority,
      run_at: this.runAt,
      delay: this.delay,
      timeout: this.timeout,
      no_retry_on: this.noRetryOn,
      backoff_max: this.backoffMax,
      backoff_jitter: this.backoffJitter,
      env: this.env === undefined ? undefined : envFromFlags(this.env),
      after: this.after,
      queue: this.queue,
    };
    return Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
  }

  private async specs(): Promise<{ spec: Spec; where: string }[]> {
    const separated = this.context.argv.includes('--');
    if (this.file !== undefined) {
      if (this.words.length > 0) throw invalid('give either --file or a job, not both');
      const lines = (await readInput(this.file, this.context.stdin)).split('\n');
      const specs = lines.flatMap((line, index) => {
        const where = `${this.file === '-' ? 'stdin' : this.file} line ${index + 1}`;
        return line.trim() === '' ? [] : [{ spec: { ...this.flagSpec(), ...parseSpecJson(line, where) }, where }];
      });
      if (specs.length === 0) throw invalid(`${this.file === '-' ? 'stdin' : this.file} holds no job specs`);
      return specs;
    }
    if (this.words.length === 0) throw invalid('nothing to enqueue: give a JSON spec, or a command after --');
    // clipanion gathers words from both sides of `--` into one list: argv tells them apart.
    const afterSeparator = separated ? this.context.argv.length - this.context.argv.indexOf('--') - 1 : 0;
    const before = this.words.slice(0, this.words.length - afterSeparator);
    if (separated && before.length > 0) {
      if (before[0]?.trim().startsWith('{')) throw invalid('give a JSON spec or a command after --, not both: put "command" in the spec, or drop the spec and use options such as --id');
      throw invalid(`put the whole command after --, as in: queuectl enqueue -- ${this.words.map(shellQuote).join(' ')}`);
    }
    if (!separated && this.words.length === 1 && this.words[0]?.trim().startsWith('{')) {
      const spec = parseSpecJson(this.words[0], 'job spec');
      if (Object.keys(this.flagSpec()).length > 0) throw invalid('give options inside the JSON spec, not as flags, when enqueueing JSON');
      return [{ spec, where: 'job spec' }];
    }
    // The hint is quoted for the shell it will be pasted into: `enqueue 'a && b'` must not suggest `-- a && b`.
    if (!separated) throw invalid(`put the command after --, as in: queuectl enqueue -- ${this.words.map(shellQuote).join(' ')}`);
    return [{ spec: { ...this.flagSpec(), command: commandFromWords(this.words) }, where: 'job' }];
  }

  async run() {
    const entries = await this.specs();
    const config = (await this.store.readConfig());
    const now = this.context.now();
    // With --file, every message names the line it is about.
    const prefix = (where: string) => (this.file === undefined ? '' : `${where}: `);
    const wheres = new Map<string, string>();
    const jobs: NewJob[] = entries.map(({ spec, where }) => {
      let job: NewJob;
      try {
        job = jobFromSpec(spec, { config, cwd: this.context.cwd, now });
      } catch (error) {
        if (error instanceof QueueError) throw new QueueError(error.code, `${prefix(where)}${error.message}`);
        throw error;
      }
      const first = wheres.get(job.id);
      if (first !== undefined) throw new QueueError('conflict', `${where}: id "${job.id}" is also on ${first}; every job needs its own id`);
      wheres.set(job.id, where);
      return job;
    });
    const { jobs: created, ended, newQueues } = await this.store.enqueue(
      jobs.map((job) => createJob(job, now)),
      { taken: (job, other) => new QueueError('conflict', `${prefix(wheres.get(job.id) ?? '')}a job with id "${job.id}" already exists (${other.state}); choose another id`) },
    );
    // A mistyped --queue makes a queue nobody serves as expected: say so, without refusing.
    for (const name of newQueues) this.context.stderr.write(`queuectl: new queue ${name}\n`);
    for (const job of ended) this.context.stderr.write(`queuectl: job ${job.id} is cancelled at once (${job.last_error})\n`);
    if (this.asJson) this.json(this.file === undefined ? fullJob(created[0]!) : created.map(fullJob));
    else this.out(created.map((job) => job.id).join('\n'));
  }
}
