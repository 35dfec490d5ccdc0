/**
 * Stores for the benchmark, built in memory with the lifecycle's own functions and written in
 * the exact jobs.json format, because 100,000 `queuectl enqueue` calls would take hours.
 *
 * This is the one place that knows how a store with history looks on disk: if finished jobs
 * move to an archive file one day, only `writeStore` changes (e.g. keep the retention limit's
 * worth in jobs.json and write the rest to the archive).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createJob, type Job } from '../../src/lifecycle/job.ts';
import { claimJob, finishJob } from '../../src/lifecycle/transition.ts';
import { FORMAT_VERSION } from '../../src/lifecycle/jobfile/document.ts';
import { serializeJobs } from '../../src/lifecycle/jobfile/encode.ts';
import { DEFAULT_CONFIG } from '../../src/lifecycle/config.ts';
import { temporary } from './procs.ts';

/** A job that ran `true` once, successfully, `ageMs` before `now`. */
function completedJob(index: number, cwd: string, now: number, ageMs: number): Job {
  const created = new Date(now - ageMs - 5);
  const started = new Date(now - ageMs);
  const finished = new Date(now - ageMs + 3);
  const id = `old-${String(index).padStart(6, '0')}`;
  const pending = createJob({ id, command: 'true', cwd, max_retries: DEFAULT_CONFIG.max_retries, priority: 0, run_at: created, timeout: null, no_retry_on: [] }, created);
  const owner = { pid: 4242, started: '123456', host: 'bench-host', worker: (index % 4) + 1 };
  const running = claimJob(pending, owner, started);
  const result = { started_at: started.toISOString(), finished_at: finished.toISOString(), exit_code: 0, signal: null, timed_out: false, stderr_tail: null };
  return finishJob(running, result, DEFAULT_CONFIG.backoff_base, finished);
}

/**
 * Writes `<home>/jobs.json` holding `finished` completed jobs, spread over the last day (so
 * they are not all "in the last minute" for status metrics). `cwd` is the jobs' directory.
 */
export function writeStore(home: string, finished: number, cwd: string, now = Date.now()): void {
  fs.mkdirSync(home, { recursive: true });
  const dayMs = 24 * 3600 * 1000;
  const jobs = Array.from({ length: finished }, (_, i) => completedJob(i, cwd, now, Math.round(dayMs * (1 - i / Math.max(1, finished)))));
  fs.writeFileSync(path.join(home, 'jobs.json'), serializeJobs({ version: FORMAT_VERSION, jobs }));
}

/** How far ahead the pending jobs of a deep store are due: well after any measurement ends. */
export const PENDING_AHEAD_MS = 3600 * 1000;

/**
 * The text of a jobs.json holding `depth` pending jobs (`wait-000000` …) that are due only
 * PENDING_AHEAD_MS from `now`: the depth a queue holds while the measured jobs run. One job is
 * encoded by the store's own encoder and its id substituted, so 100,000 jobs take a moment.
 */
export function pendingJobsText(depth: number, cwd: string, now = Date.now()): string {
  const created = new Date(now);
  const spec = { id: 'wait-000000', command: 'true', cwd, max_retries: DEFAULT_CONFIG.max_retries, priority: 0, run_at: new Date(now + PENDING_AHEAD_MS), timeout: null, no_retry_on: [] };
  const one = serializeJobs({ version: FORMAT_VERSION, jobs: [createJob(spec, created)] });
  const open = one.indexOf('"jobs": [\n') + '"jobs": [\n'.length;
  const close = one.lastIndexOf('\n  ]\n}');
  const [head, job, tail] = [one.slice(0, open), one.slice(open, close), one.slice(close)];
  const jobs = Array.from({ length: depth }, (_, i) => job.replace('"wait-000000"', `"wait-${String(i).padStart(6, '0')}"`));
  return `${head}${jobs.join(',\n')}${tail}`;
}

/** Writes `<home>/jobs.json` holding `depth` pending jobs that are not due (pendingJobsText). */
export function writePending(home: string, depth: number, cwd: string): void {
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'jobs.json'), pendingJobsText(depth, cwd));
}

const templates = new Map<number, string>();
let templateRoot: { dir: string; remove: () => void } | null = null;

/**
 * Puts a store of `finished` completed jobs at `home`: built once per size by `writeStore`
 * (about 2 s for 100,000 jobs), then copied, so every measurement still gets a fresh store.
 */
export function copyStore(home: string, finished: number): void {
  let template = templates.get(finished);
  if (!template) {
    templateRoot ??= temporary('queuectl-bench-templates-');
    template = path.join(templateRoot.dir, String(finished), '.queuectl');
    writeStore(template, finished, path.dirname(template));
    templates.set(finished, template);
  }
  fs.cpSync(template, home, { recursive: true });
}

export function removeTemplates(): void {
  templateRoot?.remove();
  templateRoot = null;
  templates.clear();
}
