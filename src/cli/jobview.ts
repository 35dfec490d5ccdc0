/**
 * One job as a person reads it: its fields and its runs, as `show` prints them and the
 * dashboard's job page shows them. Pure: the caller looks up the dependencies and names the log.
 */
import { formatDuration, relativeTime } from '../lifecycle/duration.ts';
import { MAX_RECOVERIES, type Job } from '../lifecycle/job.ts';
import { shellQuote } from '../lifecycle/spec.ts';
import { waitingFor } from '../lifecycle/workflow.ts';

/** Interrupted runs spend no attempt; only crashes count towards the poison-pill limit. */
function interruptions(job: Job): string {
  const runs = job.history.filter((attempt) => attempt.outcome === 'interrupted').length;
  if (runs === 0 && job.recoveries === 0) return '';
  const crashes = job.recoveries ? ` (${job.recoveries} by a crash; ${MAX_RECOVERIES} crashes make it dead)` : '';
  return `, ${runs} run${runs === 1 ? '' : 's'} interrupted${crashes}`;
}

/**
 * When the latest run started, as its log header and the runs table say: the runner's clock
 * when it started the command. The job's own `started_at` is when it was claimed, a little
 * earlier, and stays the record for recovery. `runs` reads the job's log, only while it runs.
 */
export function runStart(job: Job, runs: () => readonly { started_at: string }[]): string | null {
  const claimed = job.started_at;
  if (job.state !== 'processing') return job.history.at(-1)?.started_at ?? claimed;
  const current = runs().at(-1);
  return current && claimed && current.started_at >= claimed ? current.started_at : claimed;
}

/**
 * Name and value of every field, in `show`'s order; `dependencies` are the jobs of `job.after`
 * that exist; `started` is `runStart`'s answer.
 */
export function jobFields(job: Job, dependencies: ReadonlyMap<string, Job>, now: Date, log: string, started: string | null): [string, string][] {
  const when = (iso: string | null) => (iso ? `${iso} (${relativeTime(iso, now)})` : '-');
  const waiting = job.state === 'pending' || job.state === 'failed' ? waitingFor(job, dependencies) : [];
  return [
    ['id', job.id],
    ['state', job.state],
    ['command', job.command],
    ['cwd', job.cwd],
    ['env', Object.keys(job.env).length ? Object.entries(job.env).map(([name, value]) => shellQuote(`${name}=${value}`)).join(' ') : '-'],
    ['runs', `${job.attempts} of ${Math.max(1, job.max_retries)}${interruptions(job)}`],
    ['priority', String(job.priority)],
    ['queue', job.queue],
    ['after', job.after.length ? job.after.map((id) => `${id} (${dependencies.get(id)?.state ?? 'gone'})`).join(', ') : '-'],
    ['waiting for', waiting.length ? waiting.join(', ') : '-'],
    ['schedule', job.schedule ?? '-'],
    ['timeout', job.timeout ?? 'none'],
    ['no retry on', job.no_retry_on.length ? job.no_retry_on.join(',') : '-'],
    // Shown only for a job with its own: the others follow the settings in force when they fail.
    ...(job.backoff_max !== null || job.backoff_jitter !== null ? [['backoff', `at most ${job.backoff_max ?? 'config backoff-max'}, jitter ${job.backoff_jitter ?? 'config backoff-jitter'}`] as [string, string]] : []),
    ['created', when(job.created_at)],
    [job.state === 'pending' || job.state === 'failed' ? 'due' : 'run at', when(job.run_at)],
    ['started', when(started)],
    ['finished', when(job.finished_at)],
    ['last error', job.last_error ?? '-'],
    ['running on', job.owner ? `supervisor ${job.owner.pid} on ${job.owner.host}, worker ${job.owner.worker}` : '-'],
    ['log', log],
  ];
}

export const RUN_COLUMNS = ['RUN', 'STARTED', 'TOOK', 'OUTCOME', 'EXIT', 'NEXT', 'ERROR'] as const;

/** One row per run, numbered as `logs` numbers them, under `RUN_COLUMNS`. */
export function runRows(job: Job, now: Date): string[][] {
  return job.history.map((attempt, index) => [
    String(index + 1),
    attempt.started_at,
    formatDuration(attempt.duration_ms),
    attempt.outcome,
    attempt.exit_code === null ? (attempt.signal ?? '-') : String(attempt.exit_code),
    attempt.retry_at ? `retry ${relativeTime(attempt.retry_at, now)}` : '',
    attempt.error ?? '',
  ]);
}
