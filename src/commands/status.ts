import fs from 'node:fs';
import { Option } from 'clipanion';
import { formatDuration } from '../duration.ts';
import { invalid } from '../error.ts';
import { computeMetrics } from '../metrics.ts';
import { changeOrTimeout } from '../watch.ts';
import { STATES, type State } from '../job.ts';
import { liveSupervisors } from '../registry.ts';
import { readJobs } from '../store.ts';
import { renderTable, clip } from '../table.ts';
import { relativeTime } from '../view.ts';
import { summarizeQueues } from '../queue.ts';
import { waitingFor } from '../workflow.ts';
import { QueueCommand } from './base.ts';

export class StatusCommand extends QueueCommand {
  static override paths = [['status']];
  static override usage = QueueCommand.Usage({
    description: 'show how many jobs are in each state, and what the supervisors are running',
    examples: [
      ['Show the queue at a glance', '$0 status'],
      ['The same as one JSON document', '$0 status --json'],
      ['Keep it on screen, redrawn as jobs move', '$0 status --watch'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print one JSON document' });
  watch = Option.Boolean('--watch,-w', false, { description: 'redraw every second until Ctrl+C' });

  async run() {
    if (this.watch && this.asJson) throw invalid('give --watch or --json, not both');
    if (!this.watch) return this.render();
    const clear = '\x1b[H\x1b[2J';
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    while (!stop) {
      this.context.stdout.write(clear);
      await this.render();
      await changeOrTimeout([this.store.home.dir], 1000);
    }
  }

  private async render() {
    const { jobs, archived, queues, schedules } = readJobs(this.store);
    const now = this.context.now();
    const metrics = computeMetrics(jobs, now);
    const counts = Object.fromEntries(STATES.map((state) => [state, 0])) as Record<State, number>;
    for (const job of jobs) counts[job.state]++;
    counts.completed += archived?.completed ?? 0;
    counts.cancelled += archived?.cancelled ?? 0;
    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    const running = jobs.filter((job) => job.state === 'processing' && job.owner);
    const supervisors = liveSupervisors(this.store.home).map((supervisor) => ({
      pid: supervisor.pid,
      host: supervisor.host,
      started_at: supervisor.started_at,
      workers: supervisor.count,
      running: running
        .filter((job) => job.owner?.pid === supervisor.pid && job.owner.host === supervisor.host)
        .map((job) => ({ worker: job.owner?.worker ?? 0, job: job.id, command: job.command, started_at: job.started_at, run: job.attempts + 1, runs: Math.max(1, job.max_retries) })),
    }));
    const next = jobs.filter((job) => job.state === 'pending' || job.state === 'failed').map((job) => job.run_at).sort()[0] ?? null;
    const byId = new Map(jobs.map((job) => [job.id, job]));
    const waiting = jobs
      .filter((job) => job.state === 'pending' || job.state === 'failed')
      .map((job) => ({ job: job.id, waiting_for: waitingFor(job, byId) }))
      .filter((entry) => entry.waiting_for.length > 0);
    const queueList = summarizeQueues(jobs, queues, STATES).map(({ name, counts: inQueue, parallel, paused }) => ({ name, waiting: inQueue.pending + inQueue.failed, running: inQueue.processing, parallel, paused }));
    const scheduleList = (schedules ?? []).map((schedule) => ({ name: schedule.name, cron: schedule.cron, tz: schedule.tz, next_at: schedule.next_at, last_fired_at: schedule.last_fired_at }));
    if (this.asJson) {
      return this.json({ total, counts, next_due_at: next, metrics, supervisors, busy_workers: running.length, store: this.store.home.dir, queues: queueList, waiting, schedules: scheduleList });
    }
    this.context.stdout.write(renderTable(['STATE', 'JOBS'], STATES.map((state) => [state, String(counts[state])])));
    this.out(`total: ${total}${next && Date.parse(next) > now.getTime() ? `, next job due ${relativeTime(next, now)}` : ''}`);
    const duration = (value: number | null) => (value === null ? '-' : formatDuration(value));
    this.out(`last minute: ${metrics.last_minute.completed} completed, ${metrics.last_minute.failed} failed; last hour: ${metrics.last_hour.completed} completed, ${metrics.last_hour.failed} failed; duration mean ${duration(metrics.mean_duration_ms)}, p95 ${duration(metrics.p95_duration_ms)}`);
    // Queues, dependencies and schedules get lines only once they are used: a plain queue reads as before.
    if (queueList.length > 1 || queueList.some((queue) => queue.paused || queue.parallel !== null)) {
      this.out(`queues: ${queueList.map((queue) => `${queue.name} ${queue.running} running, ${queue.waiting} waiting${queue.parallel === null ? '' : `, at most ${queue.parallel}`}${queue.paused ? ', paused' : ''}`).join('; ')}`);
    }
    if (waiting.length > 0) this.out(`waiting for dependencies: ${waiting.map((entry) => `${entry.job} (for ${entry.waiting_for.join(', ')})`).join(', ')}`);
    if (scheduleList.length > 0) this.out(`schedules: ${scheduleList.map((schedule) => `${schedule.name} next ${relativeTime(schedule.next_at, now)}`).join(', ')}`);
    this.out(`store: ${this.store.home.dir}${fs.existsSync(this.store.home.dir) ? '' : ' (none yet: the first change creates it)'}`);
    if (supervisors.length === 0) return this.out('\nno supervisor is running (start one with: queuectl worker start)');
    for (const supervisor of supervisors) {
      this.out(`\nsupervisor ${supervisor.pid} on ${supervisor.host}, ${supervisor.workers} workers, ${supervisor.running.length} busy, up ${relativeTime(supervisor.started_at, now).replace(' ago', '')}`);
      if (supervisor.running.length > 0) this.context.stdout.write(renderTable(['WORKER', 'JOB', 'RUN', 'STARTED', 'COMMAND'], supervisor.running.map((run) => [String(run.worker), run.job, `${run.run} of ${run.runs}`, run.started_at ? relativeTime(run.started_at, now) : '', clip(run.command, 60)])));
    }
  }
}

