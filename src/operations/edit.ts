/**
 * edit: a job that has not started yet changes in one transaction, validated as `enqueue`
 * validates (the same spec parser, dependency checks and queue names), so a supervisor claims it
 * either as it was or as edited, and a job that started meanwhile is refused, never half-edited.
 */
import { cycleThrough, editJob, type JobChanges } from '../lifecycle/edit.ts';
import { invalid } from '../lifecycle/error.ts';
import { findJob, type Job } from '../lifecycle/job.ts';
import { jobFromSpec, type Spec } from '../lifecycle/spec.ts';
import { enqueueDependents } from '../lifecycle/workflow.ts';
import type { Store } from '../store/store.ts';

/** `off` clears a job's own time limit or backoff cap. */
const CLEARABLE = ['timeout', 'backoff_max'] as const;

/** The spec's changes as job fields: parsed by enqueue's parser, so every value is checked the same way. */
function changesFrom(spec: Spec, job: Pick<Job, 'command' | 'cwd'>, config: Parameters<typeof jobFromSpec>[1]['config'], now: Date): JobChanges {
  const given = { ...spec };
  const cleared = CLEARABLE.filter((key) => given[key] === 'off');
  for (const key of cleared) delete given[key];
  const made = jobFromSpec({ command: job.command, ...given }, { config, cwd: job.cwd, now });
  const changes: JobChanges = {};
  const set = <K extends keyof JobChanges>(key: K, value: JobChanges[K]) => (changes[key] = value);
  if (given.command !== undefined) set('command', made.command);
  if (given.priority !== undefined) set('priority', made.priority);
  if (given.run_at !== undefined || given.delay !== undefined) set('run_at', made.run_at.toISOString());
  if (given.queue !== undefined) set('queue', made.queue!);
  if (given.after !== undefined) set('after', made.after!);
  if (given.env !== undefined) set('env', made.env!);
  if (given.timeout !== undefined) set('timeout', made.timeout);
  if (given.max_retries !== undefined) set('max_retries', made.max_retries);
  if (given.no_retry_on !== undefined) set('no_retry_on', made.no_retry_on);
  if (given.backoff_max !== undefined) set('backoff_max', made.backoff_max ?? null);
  if (given.backoff_jitter !== undefined) set('backoff_jitter', made.backoff_jitter ?? null);
  for (const key of cleared) set(key, null);
  return changes;
}

/** Edits job `id`; returns it as edited, and whether waiting for an ended job cancelled it at once (as enqueue would). */
export async function editJobById(store: Store, id: string, spec: Spec): Promise<{ job: Job; changed: string[]; ended: boolean }> {
  if (Object.keys(spec).length === 0) throw invalid('nothing to edit: give at least one of --command, --priority, --run-at, --delay, --queue, --after, --env, --timeout, --max-retries');
  // Bad values are refused before the store is touched, whatever the job.
  changesFrom(spec, { command: 'true', cwd: '/' }, await store.readConfig(), store.now());
  const after = typeof spec.after === 'string' ? spec.after.split(',').map((name) => name.trim()).filter(Boolean) : [];
  return store.transact((doc, config, tx) => {
    const now = store.now();
    const job = findJob(doc.jobs, id, tx.archived);
    const changes = changesFrom(spec, job, config, now);
    let edited = editJob(job, changes, now);
    let ended = false;
    if (changes.after !== undefined) {
      const known = new Map([...tx.archived, ...doc.jobs].map((other) => [other.id, other] as const));
      known.delete(job.id);
      const settled = enqueueDependents([edited], known, now);
      const cycle = cycleThrough(job.id, edited.after, doc.jobs);
      if (cycle) throw invalid(`these jobs would wait for each other in a cycle: ${cycle.join(' → ')}; none of them could ever start`);
      ended = settled.ended.length > 0;
      edited = settled.jobs[0]!;
    }
    doc.jobs = doc.jobs.map((other) => (other === job ? edited : other));
    return { job: edited, changed: Object.keys(changes), ended };
  }, { archive: [id, ...after] });
}
