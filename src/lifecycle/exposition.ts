/**
 * The Prometheus text exposition format (0.0.4) of a snapshot of the queue: what `GET /metrics`
 * serves and `queuectl metrics --prometheus` prints. Pure: the snapshot is gathered from the
 * store's reads (src/operations/metrics.ts), so both print the same for the same store.
 */
import { STATES, type State } from './job.ts';

export const EXPOSITION_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Upper bounds of the run duration histogram, in seconds: shell jobs run from milliseconds to hours. */
export const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600] as const;

export interface MetricsSnapshot {
  backend: 'file' | 'postgres';
  /** Live jobs per queue and state. */
  queues: Record<string, Record<State, number>>;
  /** Jobs moved to the archive, per state (completed or cancelled). */
  archived: Record<State, number>;
  /** Runs that finished in the last hour, by result. */
  lastHour: { completed: number; failed: number };
  /** Durations in seconds of the recent runs the histogram is over. */
  durations: readonly number[];
  supervisors: { host: string; phase: string; workers: number }[];
  /** Processing jobs per host that runs them. */
  busy: Record<string, number>;
  /** Seconds the next firing of each schedule is overdue (0 when not due yet). */
  scheduleLag: Record<string, number>;
  /** Seconds the first due job has waited to start; null when none is due. */
  oldestDueSeconds: number | null;
  scrapeSeconds: number;
}

/** Label values escaped as the format says: backslash, double quote and line feed. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  const inner = Object.entries(pairs).map(([name, value]) => `${name}="${label(value)}"`).join(',');
  return inner === '' ? '' : `{${inner}}`;
}

/** A number as the format writes it: integers plainly, others without exponent noise where possible. */
function value(number: number): string {
  if (Number.isNaN(number)) return 'NaN';
  if (!Number.isFinite(number)) return number > 0 ? '+Inf' : '-Inf';
  return Number.isInteger(number) ? String(number) : String(Number(number.toFixed(6)));
}

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string, samples: [Record<string, string>, number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [pairs, number] of samples) this.lines.push(`${name}${labels(pairs)} ${value(number)}`);
  }

  histogram(name: string, help: string, observed: readonly number[]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const bound of DURATION_BUCKETS) this.lines.push(`${name}_bucket{le="${bound}"} ${observed.filter((seconds) => seconds <= bound).length}`);
    this.lines.push(`${name}_bucket{le="+Inf"} ${observed.length}`, `${name}_sum ${value(observed.reduce((sum, seconds) => sum + seconds, 0))}`, `${name}_count ${observed.length}`);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function tally<K extends string>(items: readonly { key: K }[]): Map<K, number> {
  const counts = new Map<K, number>();
  for (const { key } of items) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

export function renderMetrics(snapshot: MetricsSnapshot): string {
  const out = new Exposition();
  out.family('queuectl_up', 'gauge', 'Whether the store answered this scrape (1).', [[{}, 1]]);
  out.family('queuectl_info', 'gauge', 'The store this queuectl reads: file or postgres (always 1).', [[{ backend: snapshot.backend }, 1]]);
  const queues = Object.keys(snapshot.queues).sort();
  out.family('queuectl_jobs', 'gauge', 'Live jobs (not archived) by queue and state.', queues.flatMap((queue) => STATES.map((state): [Record<string, string>, number] => [{ queue, state }, snapshot.queues[queue]![state]])));
  out.family('queuectl_jobs_archived', 'gauge', 'Finished jobs moved to the archive (see keep-finished), by state; clean removes them.', (['completed', 'cancelled'] as const).map((state) => [{ state }, snapshot.archived[state]]));
  out.family('queuectl_runs_last_hour', 'gauge', 'Runs that finished in the last hour, by result (timed-out runs count as failed): a sliding window over the live jobs\' history, as status shows it.', [
    [{ result: 'completed' }, snapshot.lastHour.completed],
    [{ result: 'failed' }, snapshot.lastHour.failed],
  ]);
  out.histogram('queuectl_run_duration_seconds', 'Durations of the runs that finished in the last hour among the most recently changed jobs (a sliding window: use histogram_quantile on it directly, not on its rate).', snapshot.durations);
  const phases = tally(snapshot.supervisors.map((record) => ({ key: `${record.host}\n${record.phase}` })));
  out.family('queuectl_supervisors', 'gauge', 'Running supervisors by host and phase (running, draining, forcing).', [...phases].sort().map(([key, count]) => {
    const [host = '', phase = ''] = key.split('\n');
    return [{ host, phase }, count];
  }));
  const hosts = [...new Set([...snapshot.supervisors.map((record) => record.host), ...Object.keys(snapshot.busy)])].sort();
  const workers = (host: string) => snapshot.supervisors.filter((record) => record.host === host).reduce((sum, record) => sum + record.workers, 0);
  out.family('queuectl_workers', 'gauge', 'Workers of the running supervisors, by host.', hosts.map((host) => [{ host }, workers(host)]));
  out.family('queuectl_workers_busy', 'gauge', 'Jobs processing now, by the host that runs them: the busy workers.', hosts.map((host) => [{ host }, snapshot.busy[host] ?? 0]));
  out.family('queuectl_schedule_lag_seconds', 'gauge', 'Seconds past its due time that a schedule\'s next firing has not happened yet (0: not due yet).', Object.keys(snapshot.scheduleLag).sort().map((schedule) => [{ schedule }, snapshot.scheduleLag[schedule]!]));
  out.family('queuectl_oldest_due_job_seconds', 'gauge', 'Seconds the next job to start has been due without starting (0 when no job is due).', [[{}, snapshot.oldestDueSeconds ?? 0]]);
  out.family('queuectl_scrape_duration_seconds', 'gauge', 'Seconds this scrape took to read the store.', [[{}, snapshot.scrapeSeconds]]);
  return out.text();
}
