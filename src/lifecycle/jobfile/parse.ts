/**
 * Reading jobs.json back: JSON syntax errors located by line and column, then the whole document
 * validated, so that any problem is an error naming the file, the job and the field.
 */
import { invalid } from '../error.ts';
import type { Job } from '../job.ts';
import { located } from './checks.ts';
import { FORMAT_VERSION, type Archived, type JobDefaults, type JobsDocument } from './document.ts';
import { fromWritten, type StoredJob } from './keys.ts';
import { archivedCheck, jobCheck, queuesCheck, schedulesCheck } from './schema.ts';

const TOP_LEVEL_KEYS = ['version', 'archived', 'queues', 'schedules', 'jobs'];

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

const parseError = (text: string): string | null => {
  try {
    JSON.parse(text);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
};

/**
 * Where JSON.parse gave up. V8 puts the offset in most messages, but not in "Unexpected token"
 * (a trailing comma, a bare word): then the offset is found as the shortest prefix of the text
 * that fails the same way, because every shorter prefix merely ends too early.
 */
function syntaxErrorOffset(text: string, message: string): number | null {
  const match = /position (\d+)/.exec(message);
  if (match) return Number(match[1]);
  if (message.startsWith('Unexpected end of JSON input')) return text.length;
  if (!message.startsWith('Unexpected token')) return null;
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (parseError(text.slice(0, middle))?.startsWith('Unexpected token')) high = middle;
    else low = middle + 1;
  }
  return low - 1;
}

/** The text as JSON, or an error that says where it is broken. */
function parseSyntax(text: string, file: string): unknown {
  // Not `text.trim()`: that copies a file of megabytes to look at its ends.
  if (/^\s*$/.test(text)) {
    throw invalid(`${file} is empty (${text.length} bytes); restore it from git or a backup, or delete it to start an empty queue`);
  }
  // A crash or a full disk can leave a file of NUL bytes; V8 would quote them raw in its message.
  const nul = text.indexOf('\0');
  if (nul !== -1) {
    throw invalid(`${file} is damaged: it holds NUL bytes from ${lineColumn(text, nul)} (a crash or a full disk while writing?); restore it from git or a backup, or delete it to start an empty queue`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const offset = syntaxErrorOffset(text, message);
    const where = offset === null ? '' : ` (${lineColumn(text, offset)})`;
    throw invalid(`${file} is not valid JSON${where}: ${message}; fix it by hand or restore it from git`);
  }
}

/** Parses and validates the whole file. Any problem is an error naming file, job and field. */
export function parseJobs(text: string, file: string, defaults: JobDefaults): JobsDocument {
  return readDocument(parseSyntax(text, file), file, checkedJobs(file, defaults));
}

/**
 * A file that this queuectl wrote itself and nobody has touched since (the store knows by its
 * identity): valid by construction, so each job is only given its left-out fields back.
 */
export function parseWritten(text: string, file: string, defaults: JobDefaults): JobsDocument {
  return readDocument(parseSyntax(text, file), file, (entries) => {
    // Not validated, but still a document of the right shape: anything else is read the slow way.
    if (!entries.every((entry) => typeof entry === 'object' && entry !== null)) return checkedJobs(file, defaults)(entries);
    return entries.map((entry) => fromWritten(entry as StoredJob));
  });
}

function checkedJobs(file: string, defaults: JobDefaults): (entries: unknown[]) => Job[] {
  return (entries) => {
    const check = jobCheck(defaults);
    const seen = new Set<string>();
    return entries.map((entry: unknown, index: number) => {
      const name = typeof entry === 'object' && entry !== null && typeof (entry as Job).id === 'string' ? `job "${(entry as Job).id}" (#${index + 1})` : `job #${index + 1}`;
      const job = located(() => check(entry), (message) => invalid(`${file}: ${name}: ${message.replace(/^job: /, '')}`));
      if (seen.has(job.id)) throw invalid(`${file}: ${name}: duplicate id "${job.id}"; every job needs its own id`);
      if (job.after.includes(job.id)) throw invalid(`${file}: ${name}: field "after": a job cannot wait for itself`);
      seen.add(job.id);
      return job;
    });
  };
}

/** The top level: known keys, the version, then queues, schedules, archive totals and jobs. */
function readDocument(raw: unknown, file: string, readJobs: (entries: unknown[]) => Job[]): JobsDocument {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${file}: expected an object {"version": 1, "jobs": [...]}`);
  const doc = raw as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.includes(key)) throw invalid(`${file}: unknown top-level field "${key}"; expected ${TOP_LEVEL_KEYS.join(', ')}`);
  }
  const atTop = (message: string) => invalid(`${file}: ${message}`);
  const queues = doc.queues === undefined ? undefined : located(() => queuesCheck(doc.queues), atTop);
  const schedules = doc.schedules === undefined ? undefined : located(() => schedulesCheck(doc.schedules), atTop);
  const archived: Archived | undefined = doc.archived === undefined ? undefined : located(() => archivedCheck(doc.archived), atTop);
  if (doc.version !== FORMAT_VERSION) throw invalid(`${file}: unsupported version ${JSON.stringify(doc.version)}; this queuectl reads version ${FORMAT_VERSION}`);
  if (!Array.isArray(doc.jobs)) throw invalid(`${file}: field "jobs" must be an array`);
  const jobs = readJobs(doc.jobs);
  return {
    version: FORMAT_VERSION,
    ...(archived && { archived }),
    ...(queues && Object.keys(queues).length > 0 && { queues }),
    ...(schedules && schedules.length > 0 && { schedules }),
    jobs,
  };
}
