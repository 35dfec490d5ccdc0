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
  const { jobs } = doc;
  for (let index = 0; index < jobs.length; ) {
    if (index > 0) parts.push(BETWEEN_JOBS);
    const run = writtenRun(jobs, index);
    if (run) {
      parts.push(run.bytes);
      index += run.count;
    } else {
      parts.push(encodeJob(jobs[index]!));
      index++;
    }
  }
  parts.push(FILE_END);
  return Buffer.concat(parts);
}

export function serializeJobs(doc: JobsDocument): string {
  return encodeJobs(doc).toString('utf8');
}

/**
 * A jobs.json that `encodeJobs` wrote for exactly `jobs`, in that order, read back: runs of its
 * jobs that are still side by side are copied from it in one piece. Where each job starts is
 * found only when a run begins or ends inside the file: a job's text ends at the first line that
 * is a bare `}` at the job's indent (deeper lines are indented further, and JSON strings hold no
 * raw newline).
 */
class WrittenFile {
  private starts: Int32Array | null = null;
  private ends: Int32Array | null = null;
  /** Set when the file does not have the layout expected: its jobs are encoded again instead. */
  broken = false;

  constructor(
    private readonly bytes: Buffer,
    readonly count: number,
    private readonly first: number,
    private readonly last: number,
  ) {}

  /** The bytes of jobs `from` to `to` (inclusive) with what lies between them, or null. */
  span(from: number, to: number): Buffer | null {
    if (from === 0 && to === this.count - 1) return this.bytes.subarray(this.first, this.last);
    if (!this.starts && !this.locate()) return null;
    return this.bytes.subarray(this.starts![from]!, this.ends![to]!);
  }

  private locate(): boolean {
    const starts = new Int32Array(this.count);
    const ends = new Int32Array(this.count);
    let start = this.first;
    for (let index = 0; index < this.count; index++) {
      if (index > 0) {
        if (this.bytes[start] !== BETWEEN_JOBS[0] || this.bytes[start + 1] !== BETWEEN_JOBS[1]) return this.fail();
        start += BETWEEN_JOBS.length;
      }
      const end = this.bytes.indexOf(JOB_END, start);
      if (end === -1 || this.bytes.compare(JOB_START, 0, JOB_START.length, start, start + JOB_START.length) !== 0) return this.fail();
      starts[index] = start;
      ends[index] = start = end + JOB_END.length;
    }
    if (start !== this.last) return this.fail();
    this.starts = starts;
    this.ends = ends;
    return true;
  }

  private fail(): false {
    this.broken = true;
    return false;
  }
}

/** Where a job read back from a file that queuectl wrote sits in it. */
const written = new WeakMap<Job, { file: WrittenFile; index: number }>();

function writtenRun(jobs: readonly Job[], index: number): { bytes: Buffer; count: number } | null {
  const place = written.get(jobs[index]!);
  if (!place || place.file.broken) return null;
  let count = 1;
  while (index + count < jobs.length) {
    const next = written.get(jobs[index + count]!);
    if (next?.file !== place.file || next.index !== place.index + count) break;
    count++;
  }
  const bytes = place.file.span(place.index, place.index + count - 1);
  return bytes && { bytes, count };
}

/**
 * Records that `bytes` is the file `encodeJobs` wrote for exactly `jobs` (as read back from it),
 * so that a rewrite copies the unchanged jobs' bytes instead of encoding them again. Returns
 * whether the file had the layout expected; if not, nothing is recorded.
 */
export function adoptWritten(jobs: readonly Job[], bytes: Buffer): boolean {
  if (jobs.length === 0) return false;
  const at = bytes.indexOf(JOBS_START);
  if (at === -1 || (at > 0 && bytes[at - 1] !== 0x0a)) return false;
  const first = at + JOBS_START.length;
  const last = bytes.length - FILE_END.length;
  if (last < first || bytes.compare(FILE_END, 0, FILE_END.length, last) !== 0) return false;
  const file = new WrittenFile(bytes, jobs.length, first, last);
  jobs.forEach((job, index) => written.set(job, { file, index }));
  return true;
}
