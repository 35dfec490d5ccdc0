/**
 * Jobs in PostgreSQL: the row codec. A row's `doc` is the job exactly as jobs.json holds it, so
 * the store's transactions apply the pure lifecycle functions of job.ts to the same objects as
 * the file store does; no lifecycle rule is restated in SQL.
 */
import type { Job } from '../../lifecycle/job.ts';
import { toStored, fromStored, type StoredJob } from '../../lifecycle/jobfile/keys.ts';

/** A job as the `doc` column holds it: the jobs.json object, with nothing else in it. */
export function encodeJob(job: Job): string {
  return JSON.stringify(toStored(job));
}

/** jsonb keeps no key order: the job comes back in the canonical order of jobs.json. */
export function decodeJob(doc: unknown): Job {
  return fromStored(doc as StoredJob);
}
