import { Option } from 'clipanion';
import { parseDuration } from '../../../lifecycle/duration.ts';
import { QueueError } from '../../../lifecycle/error.ts';
import { HOST, isRunning } from '../../../system/proc.ts';
import type { SupervisorRecord } from '../../../store/store.ts';
import type { Job } from '../../../lifecycle/job.ts';
import { changeOrTimeout } from '../../watch.ts';
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
    const { asked, notes } = await this.store.requestStop({ force: this.force });
    for (const note of notes) this.context.stderr.write(`queuectl: ${note}\n`);
    if (asked.length === 0) return this.out('no supervisor is running');
    const key = (record: SupervisorRecord) => `${record.host}/${record.pid}/${record.started}`;
    const deadline = Date.now() + limit;
    let running = asked;
    let said = Date.now();
    while (running.length > 0 && Date.now() < deadline) {
      await changeOrTimeout(this.store, [], 100);
      const live = new Set((await this.store.supervisors()).map(key));
      // A supervisor leaves the store a moment before its process exits (it closes its
      // connections first): on this host, the process itself is waited for too.
      running = running.filter((record) => live.has(key(record)) || (record.host === HOST && isRunning(record)));
      if (running.length > 0 && Date.now() - said >= PROGRESS_MS) {
        said = Date.now();
        this.context.stderr.write(`queuectl: ${await this.describeWait(running)}\n`);
      }
    }
    const stopped = asked.filter((record) => !running.includes(record));
    if (stopped.length > 0) this.out(`stopped ${stopped.length} supervisor${stopped.length === 1 ? '' : 's'} (pid ${stopped.map(describe).join(', ')})`);
    if (running.length > 0) {
      throw new QueueError('busy', `supervisor${running.length === 1 ? '' : 's'} ${running.map(describe).join(', ')} still running after ${this.timeout}, waiting for running jobs; run queuectl worker stop --force to interrupt them`);
    }
  }

  /** `waiting for supervisor 2065: 1 running job`, one clause per supervisor still running. */
  private async describeWait(running: readonly SupervisorRecord[]): Promise<string> {
    let jobs: readonly Job[] = [];
    try {
      jobs = (await this.store.readJobs()).jobs;
    } catch {
      // A store that cannot be read now does not stop the wait: the count is left out.
    }
    const clauses = running.map((record) => {
      const count = jobs.filter((job) => job.state === 'processing' && job.owner?.pid === record.pid && job.owner?.host === record.host).length;
      // Its jobs are recorded; it is closing its workers and leaving the store.
      if (count === 0) return `supervisor ${describe(record)}: exiting`;
      return `supervisor ${describe(record)}: ${count} running job${count === 1 ? '' : 's'}`;
    });
    return `waiting for ${clauses.join('; ')}`;
  }
}

/** `2065`, or `2065 on host-b` for a supervisor on another host. */
function describe(record: SupervisorRecord): string {
  return record.host === HOST ? String(record.pid) : `${record.pid} on ${record.host}`;
}
