import fs from 'node:fs';
import { Option } from 'clipanion';
import { formatDuration } from '../../lifecycle/duration.ts';
import { invalid } from '../../lifecycle/error.ts';
import { changeOrTimeout } from '../watch.ts';
import { STATES } from '../../lifecycle/job.ts';
import { queuesShown, readOverview, type SupervisorSummary } from '../summary.ts';
import { renderTable, clip } from '../table.ts';
import { relativeTime } from '../../lifecycle/duration.ts';
import { QueueCommand } from './base.ts';

export class StatusCommand extends QueueCommand {
  static override paths = [['status']];
  static override usage = QueueCommand.Usage({
    description: 'show how many jobs are in each state, and what the supervisors are running',
    details: `
      Each supervisor is shown with its phase when it is not simply running: \`draining\` after a
      first signal (it starts no new job and waits for its running ones), \`forcing\` after a
      second. A \`processing\` job whose supervisor is gone is listed as waiting for recovery: it
      runs again once a supervisor recovers it. \`--json\` gives both (\`phase\` of each
      supervisor, \`waiting_for_recovery\`). \`--watch\` into a pipe or a file writes plain
      snapshots, a blank line between them, with no terminal escape codes.
    `,
    examples: [
      ['Show the queue at a glance', '$0 status'],
      ['The same as one JSON document', '$0 status --json'],
      ['Keep it on screen, redrawn as jobs move', '$0 status --watch'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print one JSON document' });
  watch = Option.Boolean('--watch,-w', false, { description: 'redraw every second until Ctrl+C (plain snapshots when not a terminal)' });

  async run() {
    if (this.watch && this.asJson) throw invalid('give --watch or --json, not both');
    if (!this.watch) return this.render();
    // A terminal is redrawn in place; a pipe or a file gets plain snapshots, a blank line between.
    const terminal = (this.context.stdout as NodeJS.WriteStream).isTTY === true;
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    for (let first = true; !stop; first = false) {
      this.context.stdout.write(terminal ? '\x1b[H\x1b[2J' : first ? '' : '\n');
      await this.render();
      await changeOrTimeout(this.store, [], 1000);
    }
  }

  private async render() {
    const now = this.store.now();
    const view = await readOverview(this.store, now);
    const { total, counts, next_due_at: next, metrics, supervisors, running, waiting, queues, dependencies, schedules } = view;
    const queueList = queues.map(({ name, waiting: inQueue, running: busy, parallel, paused }) => ({ name, waiting: inQueue, running: busy, parallel, paused }));
    if (this.asJson) {
      return this.json({
        total, counts, next_due_at: next, metrics, supervisors, busy_workers: running.length, waiting_for_recovery: waiting, store: this.store.where, queues: queueList,
        waiting_for_dependencies: dependencies.jobs, waiting_for_dependencies_total: dependencies.total, schedules,
      });
    }
    this.context.stdout.write(renderTable(['STATE', 'JOBS'], STATES.map((state) => [state, String(counts[state])])));
    this.out(`total: ${total}${next && Date.parse(next) > now.getTime() ? `, next job due ${relativeTime(next, now)}` : ''}`);
    const duration = (value: number | null) => (value === null ? '-' : formatDuration(value));
    this.out(`last minute: ${metrics.last_minute.completed} completed, ${metrics.last_minute.failed} failed; last hour: ${metrics.last_hour.completed} completed, ${metrics.last_hour.failed} failed; duration mean ${duration(metrics.mean_duration_ms)}, p95 ${duration(metrics.p95_duration_ms)}`);
    // Queues, dependencies and schedules get lines only once they are used: a plain queue reads as before.
    if (queuesShown(queues)) {
      this.out(`queues: ${queueList.map((queue) => `${queue.name} ${queue.running} running, ${queue.waiting} waiting${queue.parallel === null ? '' : `, at most ${queue.parallel}`}${queue.paused ? ', paused' : ''}`).join('; ')}`);
    }
    if (dependencies.total > 0) {
      const more = dependencies.total - dependencies.jobs.length;
      this.out(`waiting for dependencies: ${dependencies.jobs.map((entry) => `${entry.job} (for ${entry.waiting_for.join(', ')})`).join(', ')}${more > 0 ? `, and ${more} more` : ''}`);
    }
    if (schedules.length > 0) this.out(`schedules: ${schedules.map((schedule) => `${schedule.name} next ${relativeTime(schedule.next_at, now)}`).join(', ')}`);
    const none = this.store.backend === 'file' && !fs.existsSync(this.store.home.dir);
    this.out(`store: ${this.store.where}${none ? ' (none yet: the first change creates it)' : ''}`);
    if (supervisors.length === 0) this.out('\nno supervisor is running (start one with: queuectl worker start)');
    for (const supervisor of supervisors) this.supervisor(supervisor, now);
    if (waiting.length === 0) return;
    const when = view.recovering ? 'a running supervisor takes it back within seconds' : 'starts when a supervisor runs';
    this.out(`\n${waiting.length} processing job${waiting.length === 1 ? '' : 's'} whose supervisor is gone, waiting for recovery: ${when}`);
    this.context.stdout.write(renderTable(['JOB', 'SUPERVISOR', 'STARTED', 'COMMAND'], waiting.map((job) => [job.job, job.owner_pid === null ? '-' : `${job.owner_pid} (gone)`, job.started_at ? relativeTime(job.started_at, now) : '', clip(job.command, 60)])));
  }

  private supervisor(supervisor: SupervisorSummary, now: Date) {
    const phase = supervisor.phase === 'running' ? '' : `, ${supervisor.phase}${supervisor.phase === 'draining' ? ' (starts no new job; waits for its running jobs)' : ' (interrupting its running jobs)'}`;
    const heartbeat = supervisor.heartbeat_at ? `, heartbeat ${relativeTime(supervisor.heartbeat_at, now)}` : '';
    this.out(`\nsupervisor ${supervisor.pid} on ${supervisor.host}, ${supervisor.workers} worker${supervisor.workers === 1 ? '' : 's'}, ${supervisor.running.length} busy${supervisor.waiting_to_start > 0 ? `, ${supervisor.waiting_to_start} claimed waiting for a worker` : ''}, up ${relativeTime(supervisor.started_at, now).replace(' ago', '')}${heartbeat}${phase}`);
    if (supervisor.running.length > 0) this.context.stdout.write(renderTable(['WORKER', 'JOB', 'RUN', 'STARTED', 'COMMAND'], supervisor.running.map((run) => [String(run.worker), run.job, `${run.run} of ${run.runs}`, run.started_at ? relativeTime(run.started_at, now) : '', clip(run.command, 60)])));
  }
}
