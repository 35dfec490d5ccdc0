import { Option } from 'clipanion';
import { parseDuration } from '../../../lifecycle/duration.ts';
import { QueueError } from '../../../lifecycle/error.ts';
import { HOST, isRunning } from '../../../supervisor/proc.ts';
import { listRegistered, removeStale, type SupervisorRecord } from '../../../store/file/registry.ts';
import type { Job } from '../../../lifecycle/job.ts';
import { readJobs } from '../../../store/file/store.ts';
import { QueueCommand } from '../base.ts';

/** While it waits, `worker stop` says what for, at most this often. */
const PROGRESS_MS = 1_000;

export class WorkerStopCommand extends QueueCommand {
  static override paths = [['worker', 'stop']];
  static override usage = QueueCommand.Usage({
    category: 'Workers',
    description: 'gracefully stop every running supervisor of this store, and wait for them',
    details: `
      Finds supervisors through their PID files in \`.queuectl/supervisors/\`, checks that each
      pid still belongs to the supervisor that wrote the file (its start time must match), and
      sends it SIGTERM: it starts no new job and exits once its running jobs are recorded (one
      already draining is not signalled again: a second signal would force it). Waits
      until every one has exited, at most \`--timeout\`, saying on stderr every second what it
      waits for (\`waiting for supervisor 2065: 1 running job\`). Stale PID files are removed.
      \`--force\` sends a second signal: running jobs are interrupted and go back to pending.
    `,
    examples: [
      ['Stop every supervisor, waiting up to 5 minutes', '$0 worker stop'],
      ['Interrupt running jobs and stop now', '$0 worker stop --force --timeout 1m'],
    ],
  });

  timeout = Option.String('--timeout', '5m', { description: 'how long to wait for them to exit (default 5m)' });
  force = Option.Boolean('--force', false, { description: 'interrupt running jobs instead of waiting for them' });

  async run() {
    const limit = parseDuration(this.timeout);
    const home = this.store.home;
    const stale = removeStale(home);
    if (stale > 0) this.context.stderr.write(`queuectl: removed ${stale} stale PID file${stale === 1 ? '' : 's'}\n`);
    const records = listRegistered(home).flatMap(({ record }) => (record ? [record] : []));
    for (const record of records.filter((r) => r.host !== HOST)) {
      this.context.stderr.write(`queuectl: supervisor ${record.pid} runs on ${record.host}; stop it there\n`);
    }
    const live = records.filter((record) => record.host === HOST && isRunning(record));
    if (live.length === 0) return this.out('no supervisor is running');
    const signal = (record: SupervisorRecord) => {
      try {
        process.kill(record.pid, 'SIGTERM');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    };
    // A second signal forces: one already draining (Ctrl+C in its terminal, an earlier stop) gets
    // none unless --force asks for that, and one already forcing gets none at all.
    const first = live.filter((record) => (record.phase ?? 'running') === 'running');
    for (const record of first) signal(record);
    if (this.force) {
      if (first.length > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      for (const record of live.filter((r) => r.phase !== 'forcing' && isRunning(r))) signal(record);
    }
    const deadline = Date.now() + limit;
    let running = live;
    let said = Date.now();
    while (running.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      running = running.filter(isRunning);
      if (running.length > 0 && Date.now() - said >= PROGRESS_MS) {
        said = Date.now();
        this.context.stderr.write(`queuectl: ${this.describeWait(running)}\n`);
      }
    }
    const stopped = live.filter((record) => !running.includes(record));
    if (stopped.length > 0) this.out(`stopped ${stopped.length} supervisor${stopped.length === 1 ? '' : 's'} (pid ${stopped.map((r) => r.pid).join(', ')})`);
    if (running.length > 0) {
      throw new QueueError('busy', `supervisor${running.length === 1 ? '' : 's'} ${running.map((r) => r.pid).join(', ')} still running after ${this.timeout}, waiting for running jobs; run queuectl worker stop --force to interrupt them`);
    }
  }

  /** `waiting for supervisor 2065: 1 running job`, one clause per supervisor still running. */
  private describeWait(running: readonly SupervisorRecord[]): string {
    let jobs: readonly Job[] = [];
    try {
      jobs = readJobs(this.store).jobs;
    } catch {
      // A store that cannot be read now does not stop the wait: the count is left out.
    }
    const clauses = running.map((record) => {
      const count = jobs.filter((job) => job.state === 'processing' && job.owner?.pid === record.pid && job.owner.host === record.host).length;
      return `supervisor ${record.pid}: ${count} running job${count === 1 ? '' : 's'}`;
    });
    return `waiting for ${clauses.join('; ')}`;
  }
}
