import fs from 'node:fs';
import { Option } from 'clipanion';
import { formatDuration } from '../duration.ts';
import { invalid } from '../error.ts';
import { isFinished, type Job } from '../job.ts';
import { logFile, parseLog, readLog, type Section } from '../joblog.ts';
import { lookupJobs } from '../store.ts';
import { changeOrTimeout } from '../watch.ts';
import { QueueCommand } from './base.ts';

function header(section: Section): string {
  const end = section.end ? `${section.end.how}, took ${formatDuration(section.end.duration_ms)}` : 'running';
  return `=== attempt ${section.attempt} · started ${section.started_at} · ${end} ===`;
}

export class LogsCommand extends QueueCommand {
  static override paths = [['logs']];
  static override usage = QueueCommand.Usage({
    description: "print a job's captured output, each attempt under a header",
    details: `
      Output (stdout and stderr together) is kept in \`.queuectl/logs/<id>.log\`, up to
      \`log-max-bytes\` per attempt. \`--follow\` streams the output of a running job until it ends.
    `,
    examples: [
      ['Print every attempt of a job', '$0 logs job1'],
      ['Only the second attempt', '$0 logs job1 --attempt 2'],
      ['Stream a running job', '$0 logs job1 --follow'],
    ],
  });

  id = Option.String();
  attempt = Option.String('--attempt', { description: 'only this attempt (1 is the first)' });
  follow = Option.Boolean('--follow,-f', false, { description: 'keep printing, across retries, until the job is finished' });

  async run() {
    if (this.attempt !== undefined && !/^[1-9]\d*$/.test(this.attempt)) throw invalid(`--attempt must be a whole number from 1, got "${this.attempt}"`);
    if (this.follow && this.attempt !== undefined) throw invalid('give --follow or --attempt, not both');
    const job = lookupJobs(this.store, [this.id])[0]!;
    if (this.follow) return this.stream(job);
    const sections = parseLog(readLog(this.store.home, job.id) ?? '').filter((s) => this.attempt === undefined || s.attempt === Number(this.attempt));
    if (sections.length === 0) {
      this.context.stderr.write(`queuectl: job ${job.id} has no output${this.attempt ? ` for attempt ${this.attempt}` : ' yet'} (${job.state})\n`);
      return;
    }
    this.out(sections.map((section) => [header(section), section.output].filter(Boolean).join('\n')).join('\n\n'));
  }

  /** Prints the log as it grows, across retries, until the job is finished. */
  private async stream(job: Job): Promise<void> {
    const file = logFile(this.store.home, job.id);
    let offset = 0;
    for (let current = job; ; current = lookupJobs(this.store, [job.id])[0]!) {
      // The state is read before the log: output written before the job finished is printed.
      offset = this.printFrom(file, offset);
      if (isFinished(current)) return;
      await changeOrTimeout([this.store.home.dir, this.store.home.logs], 250);
    }
  }

  private printFrom(file: string, offset: number): number {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return offset;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return offset;
      const buffer = Buffer.alloc(size - offset);
      fs.readSync(fd, buffer, 0, buffer.length, offset);
      this.context.stdout.write(buffer);
      return size;
    } finally {
      fs.closeSync(fd);
    }
  }
}
