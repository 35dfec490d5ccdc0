import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { Option } from 'clipanion';
import { parseDuration } from '../../lifecycle/duration.ts';
import { invalid, QueueError } from '../../lifecycle/error.ts';
import { isFinished, type Job } from '../../lifecycle/job.ts';
import { logFile, readRuns } from '../../supervisor/joblog.ts';
import { LogFollower, renderRuns } from '../logview.ts';
import { changeOrTimeout } from '../watch.ts';
import { QueueCommand } from './base.ts';

/** After a job is finished, how much longer than `kill-grace` its worker may take to end the run's log. */
const END_LINE_SLACK_MS = 2_000;

interface LogReader {
  follower: LogFollower;
  /** A character split between two reads is printed whole, after the second. */
  decoder: StringDecoder;
  offset: number;
  ino: number | null;
}

export class LogsCommand extends QueueCommand {
  static override paths = [['logs']];
  static override usage = QueueCommand.Usage({
    description: "print a job's captured output, each run under a header",
    details: `
      Output (stdout and stderr together) is kept in \`.queuectl/logs/<id>.log\`, up to
      \`log-max-bytes\` per run. Runs are numbered as \`show\` numbers them; each header names the
      attempt the run belonged to (an interrupted run does not spend an attempt, so a crash or a
      forced stop gives two runs of one attempt), when it started, and how it ended: its exit code,
      or why it was interrupted (its worker or supervisor died, a forced stop, a cancel).

      \`--follow\` prints the same headers while the job runs, across retries, and a closing line
      once the job is finished (completed, dead or cancelled). \`--raw\` prints only the job's own
      output, without headers.
    `,
    examples: [
      ['Print every run of a job', '$0 logs job1'],
      ['Only the runs of the second attempt', '$0 logs job1 --attempt 2'],
      ['Stream a running job', '$0 logs job1 --follow'],
      ["Only the job's own output, for a pipe", '$0 logs job1 --raw'],
    ],
  });

  id = Option.String();
  attempt = Option.String('--attempt', { description: 'only the runs of this attempt (1 is the first)' });
  follow = Option.Boolean('--follow,-f', false, { description: 'keep printing, across retries, until the job is finished' });
  raw = Option.Boolean('--raw', false, { description: "only the job's own output: no headers" });

  async run() {
    if (this.attempt !== undefined && !/^[1-9]\d*$/.test(this.attempt)) throw invalid(`--attempt must be a whole number from 1, got "${this.attempt}"`);
    if (this.follow && this.attempt !== undefined) throw invalid('give --follow or --attempt, not both');
    const job = (await this.store.lookupJobs([this.id]))[0]!;
    if (this.follow) return this.stream(job);
    const runs = readRuns(this.store.home, job);
    const sections = runs.filter((s) => this.attempt === undefined || s.attempt === Number(this.attempt));
    if (sections.length === 0 && this.attempt !== undefined) {
      const logged = [...new Set(runs.map((s) => s.attempt))];
      const has = logged.length ? `its log has attempt${logged.length === 1 ? '' : 's'} ${logged.join(', ')}` : 'it has no output yet';
      throw new QueueError('not-found', `job ${job.id} has no output for attempt ${this.attempt}: ${has} (${job.state}); see queuectl show ${job.id}`);
    }
    if (sections.length === 0) {
      this.context.stderr.write(`queuectl: job ${job.id} has no output yet (${job.state})\n`);
      return;
    }
    if (this.raw) return void this.context.stdout.write(sections.map((s) => (s.output ? `${s.output}\n` : '')).join(''));
    this.out(renderRuns(sections, job.state === 'processing'));
  }

  /** Prints the log as it grows, across retries, until the job is finished. */
  private async stream(job: Job): Promise<void> {
    const file = logFile(this.store.home, job.id);
    const reader: LogReader = { follower: new LogFollower(job.created_at, this.raw), decoder: new StringDecoder('utf8'), offset: 0, ino: null };
    let current = job;
    for (; ; current = (await this.store.lookupJobs([job.id]))[0]!) {
      // The state is read before the log: output written before the job finished is printed.
      this.printFrom(file, reader);
      if (isFinished(current)) break;
      await changeOrTimeout(this.store, [this.store.home.logs], 250);
    }
    // A cancelled run's worker ends its log after the cancel is recorded: wait for that line.
    const until = Date.now() + parseDuration((await this.store.readConfig()).kill_grace) + END_LINE_SLACK_MS;
    while (reader.follower.open && current.state === 'cancelled' && Date.now() < until) {
      await changeOrTimeout(this.store, [this.store.home.logs], 100);
      this.printFrom(file, reader);
    }
    if (!this.raw) this.out(`=== job ${current.id} ${current.state}${current.state === 'dead' && current.last_error ? `: ${current.last_error}` : ''} ===`);
  }

  private printFrom(file: string, reader: LogReader): void {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return;
    }
    try {
      const stat = fs.fstatSync(fd);
      // An earlier job's log with this id was set aside and a new one begun: read that from its start.
      if (reader.ino !== null && stat.ino !== reader.ino) reader.offset = 0;
      reader.ino = stat.ino;
      if (stat.size <= reader.offset) return;
      const buffer = Buffer.alloc(stat.size - reader.offset);
      const read = fs.readSync(fd, buffer, 0, buffer.length, reader.offset);
      reader.offset += read;
      this.context.stdout.write(reader.follower.feed(reader.decoder.write(buffer.subarray(0, read))));
    } finally {
      fs.closeSync(fd);
    }
  }
}
