/**
 * The bytes of jobs.json: the same as `JSON.stringify(toStored…, null, 2)` with keys in their
 * fixed order and a trailing newline, so the same state always gives the same bytes and
 * `git diff` shows exactly the jobs that changed.
 */
import type { Job } from '../job.ts';
import { NOTHING_ARCHIVED, type JobsDocument } from './document.ts';
import { orderedQueues, orderedSchedule, toStored } from './keys.ts';

/**
 * Each job's bytes, indented for its place in the file. Jobs are never changed in place, so a job
 * object always has the same bytes: a rewrite encodes only the jobs that changed, and the file is
 * a copy of cached buffers (a string join of them, then its UTF-8 encoding, cost a busy
 * supervisor more than anything else it did).
 */
const jobBytes = new WeakMap<Job, Buffer>();

const JOB_INDENT = '    ';

function encodeJob(job: Job): Buffer {
  let bytes = jobBytes.get(job);
  if (bytes === undefined) {
    bytes = Buffer.from(`${JOB_INDENT}${JSON.stringify(toStored(job), null, 2).replace(/\n/g, `\n${JOB_INDENT}`)}`);
    jobBytes.set(job, bytes);
  }
  return bytes;
}

const BETWEEN_JOBS = Buffer.from(',\n');
const JOBS_START = Buffer.from('  "jobs": [\n');
const JOB_START = Buffer.from(`${JOB_INDENT}{\n`);
const JOB_END = Buffer.from(`\n${JOB_INDENT}}`);
const FILE_END = Buffer.from('\n  ]\n}\n');

function head(doc: JobsDocument): string {
  // `archived` appears once something has been archived: a small queue's file stays minimal.
  const { completed, cancelled } = doc.archived ?? NOTHING_ARCHIVED;
  const archived = completed + cancelled > 0 ? `  "archived": {\n    "completed": ${completed},\n    "cancelled": ${cancelled}\n  },\n` : '';
  const indent = (value: unknown) => JSON.stringify(value, null, 2).replace(/\n/g, '\n  ');
  // Like `archived`, queue settings and schedules appear only once there are some.
  const queues = doc.queues && Object.keys(doc.queues).length > 0 ? `  "queues": ${indent(orderedQueues(doc.queues))},\n` : '';
  const schedules = doc.schedules && doc.schedules.length > 0 ? `  "schedules": ${indent(doc.schedules.map(orderedSchedule))},\n` : '';
  return `{\n  "version": ${JSON.stringify(doc.version)},\n${archived}${queues}${schedules}`;
}

export function encodeJobs(doc: JobsDocument): Buffer {
  if (doc.jobs.length === 0) return Buffer.from(`${head(doc)}  "jobs": []\n}\n`);
  const parts: Buffer[] = [Buffer.from(head(doc)), JOBS_START];
  doc.jobs.forEach((job, index) => {
    if (index > 0) parts.push(BETWEEN_JOBS);
    parts.push(encodeJob(job));
  });
  parts.push(FILE_END);
  return Buffer.concat(parts);
}

export function serializeJobs(doc: JobsDocument): string {
  return encodeJobs(doc).toString('utf8');
}

/**
 * Takes each job's bytes from `bytes`, a file that `encodeJobs` wrote for exactly these jobs,
 * instead of encoding them again: a process that reads a file queuectl wrote then rewrites it
 * encoding only what it changed. A job's text ends at the first line that is a bare `}` at the
 * job's indent: deeper lines are indented further, and JSON strings hold no raw newline. Returns
 * whether the file had the layout expected; if not, nothing is taken.
 */
export function adoptEncoded(jobs: readonly Job[], bytes: Buffer): boolean {
  const found: Buffer[] = [];
  let start = bytes.indexOf(JOBS_START);
  if (start === -1 || (start > 0 && bytes[start - 1] !== 0x0a)) return false;
  start += JOBS_START.length;
  for (let index = 0; index < jobs.length; index++) {
    if (index > 0) {
      if (bytes[start] !== BETWEEN_JOBS[0] || bytes[start + 1] !== BETWEEN_JOBS[1]) return false;
      start += BETWEEN_JOBS.length;
    }
    const end = bytes.indexOf(JOB_END, start);
    if (end === -1 || !bytes.subarray(start, start + JOB_START.length).equals(JOB_START)) return false;
    found.push(bytes.subarray(start, end + JOB_END.length));
    start = end + JOB_END.length;
  }
  if (!bytes.subarray(start).equals(FILE_END)) return false;
  jobs.forEach((job, index) => jobBytes.set(job, found[index]!));
  return true;
}
