/**
 * The format of `jobs.json`: parsing with validation that names the file, the job and the field,
 * and serialization that gives the same bytes for the same state (keys in one fixed order, two
 * spaces, a trailing newline), so `git diff` shows exactly the jobs that changed.
 */
import { runCount } from './config.ts';
import { invalid } from './error.ts';
import { createJob, DEFAULT_QUEUE, OUTCOMES, STATES, type Attempt, type Job, type Owner } from './job.ts';
import { parseDuration } from './duration.ts';
import { isQueueKey, QUEUE_NAME, type Queues, type QueueSettings } from './queue.ts';
import { SCHEDULE_NAME, type JobTemplate, type Schedule } from './schedule.ts';

export const FORMAT_VERSION = 1;

/** How many finished jobs have moved to the archive, by state: `status` counts them without reading it. */
export interface Archived {
  completed: number;
  cancelled: number;
}

export interface JobsDocument {
  version: number;
  /** Absent until something has been archived. */
  archived?: Archived;
  /** Queue settings (limits, pauses); absent while no queue has any. */
  queues?: Queues;
  /** Recurring jobs; absent while there are none. */
  schedules?: Schedule[];
  jobs: Job[];
}

export const NOTHING_ARCHIVED: Archived = { completed: 0, cancelled: 0 };

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What is wrong with a job's `env`, or null. QUEUECTL_* names are the runner's own: it sets them for every run. */
export function envProblem(env: unknown): string | null {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) return `expected an object of names and string values such as {"KEY": "value"}, got ${JSON.stringify(env)}`;
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) return `invalid variable name ${JSON.stringify(name)}: use letters, digits and _, not starting with a digit`;
    if (name.startsWith('QUEUECTL_')) return `${name}: QUEUECTL_* variables are set by queuectl itself for every run`;
    if (typeof value !== 'string') return `the value of ${name} must be a string, got ${JSON.stringify(value)}`;
    if (value.includes('\0')) return `the value of ${name} holds a NUL byte, which no environment can carry`;
  }
  return null;
}

/** What a hand-added job may leave out. */
export interface JobDefaults {
  now: Date;
  max_retries: number;
  cwd: string;
}

type Check<T> = (value: unknown) => T;

class FieldError extends Error {}

const fail = (message: string): never => {
  throw new FieldError(message);
};
const str: Check<string> = (v) => (typeof v === 'string' ? v : fail(`expected a string, got ${JSON.stringify(v)}`));
const nonEmpty: Check<string> = (v) => (str(v).trim() !== '' ? (v as string) : fail('must not be empty'));
const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check<number> => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(`expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `from ${min}` : `from ${min} to ${max}`}, got ${JSON.stringify(v)}`);
/** The form queuectl writes; anything else that parses is normalized to it. */
const CANONICAL_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
// Every job carries about seven times and this runs on every read: the common case is a regex.
const time: Check<string> = (v) => {
  if (typeof v === 'string' && CANONICAL_TIME.test(v)) return v;
  return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : fail(`expected an ISO 8601 time, got ${JSON.stringify(v)}`);
};
const nullable = <T>(check: Check<T>): Check<T | null> => (v) => (v === null ? null : check(v));
const oneOf = <T extends string>(values: readonly T[]): Check<T> => (v) =>
  values.includes(v as T) ? (v as T) : fail(`unknown value ${JSON.stringify(v)}; expected one of ${values.join(', ')}`);
const duration: Check<string> = (v) => {
  try {
    parseDuration(str(v));
    return v as string;
  } catch {
    return fail(`expected a duration such as 30s or 5m, got ${JSON.stringify(v)}`);
  }
};
const fraction: Check<number> = (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : fail(`expected a number from 0 to 1, got ${JSON.stringify(v)}`));
const runs: Check<number> = (v) => {
  if (typeof v !== 'number') return fail(`expected a whole number of runs, got ${JSON.stringify(v)}`);
  try {
    return runCount(v);
  } catch (error) {
    return fail((error as Error).message);
  }
};
const envVars: Check<Record<string, string>> = (v) => {
  const problem = envProblem(v);
  return problem === null ? (v as Record<string, string>) : fail(problem);
};
const jobId: Check<string> = (v) => (typeof v === 'string' && ID_PATTERN.test(v) ? v : fail(`invalid id ${JSON.stringify(v)}: use letters, digits and . _ : @ + - (at most 128)`));
const queueName: Check<string> = (v) => (typeof v === 'string' && QUEUE_NAME.test(v) ? v : fail(`invalid queue name ${JSON.stringify(v)}: use letters, digits and . _ - (at most 64)`));
const idList: Check<string[]> = (v) => (Array.isArray(v) ? v.map(jobId) : fail(`expected an array of job ids, got ${JSON.stringify(v)}`));
const intList: Check<number[]> = (v) => (Array.isArray(v) ? v.map(int(0, 255)) : fail(`expected an array of exit codes, got ${JSON.stringify(v)}`));

function object<T>(fields: { [K in keyof T]: Check<T[K]> }, defaults: Partial<T>, where: string): Check<T> {
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`${where}: expected an object`);
    const input = value as Record<string, unknown>;
    for (const key of Object.keys(input)) {
      if (!(key in fields)) fail(`${where}: unknown field "${key}"`);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(fields) as (keyof T & string)[]) {
      if (!(key in input)) {
        if (key in defaults) {
          out[key] = defaults[key];
          continue;
        }
        fail(`${where}: missing field "${key}"`);
      }
      try {
        out[key] = fields[key](input[key]);
      } catch (error) {
        if (!(error instanceof FieldError) || error.message.startsWith(where)) throw error;
        fail(`${where}: field "${key}": ${error.message}`);
      }
    }
    return out as T;
  };
}

const archivedCheck = object<Archived>({ completed: int(0), cancelled: int(0) }, { completed: 0, cancelled: 0 }, 'archived');

const owner = object<Owner>({ pid: int(1), started: str, host: str, worker: int(0) }, {}, 'owner');

const attempt = object<Attempt>(
  {
    started_at: time,
    finished_at: time,
    duration_ms: int(0),
    outcome: oneOf(OUTCOMES),
    exit_code: nullable(int(0, 255)),
    signal: nullable(str),
    error: nullable(str),
    retry_at: nullable(time),
  },
  { exit_code: null, signal: null, error: null, retry_at: null },
  'history entry',
);

/** A hand-added job gets what `enqueue` would have given it; only `id` and `command` are required. */
function handAddedDefaults(defaults: JobDefaults): Partial<Job> {
  const { id: _id, command: _command, ...rest } = createJob({ id: '', command: '', cwd: defaults.cwd, max_retries: defaults.max_retries, priority: 0, run_at: defaults.now, timeout: null, no_retry_on: [] }, defaults.now);
  return rest;
}

function jobCheck(defaults: JobDefaults): Check<Job> {
  return object<Job>(
    {
      id: jobId,
      command: nonEmpty,
      state: oneOf(STATES),
      attempts: int(0),
      max_retries: runs,
      priority: int(-1_000_000, 1_000_000),
      queue: queueName,
      after: idList,
      schedule: nullable(str),
      run_at: time,
      timeout: nullable(duration),
      no_retry_on: intList,
      backoff_max: nullable(duration),
      backoff_jitter: nullable(fraction),
      cwd: nonEmpty,
      env: envVars,
      created_at: time,
      updated_at: time,
      started_at: nullable(time),
      finished_at: nullable(time),
      recoveries: int(0),
      last_error: nullable(str),
      owner: nullable(owner),
      history: (v) => (Array.isArray(v) ? v.map(attempt) : fail('expected an array')),
    },
    handAddedDefaults(defaults),
    'job',
  );
}

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

/** Parses and validates the whole file. Any problem is an error naming file, job and field. */
export function parseJobs(text: string, file: string, defaults: JobDefaults): JobsDocument {
  if (text.trim() === '') {
    throw invalid(`${file} is empty (${text.length} bytes); restore it from git or a backup, or delete it to start an empty queue`);
  }
  // A crash or a full disk can leave a file of NUL bytes; V8 would quote them raw in its message.
  const nul = text.indexOf('\0');
  if (nul !== -1) {
    throw invalid(`${file} is damaged: it holds NUL bytes from ${lineColumn(text, nul)} (a crash or a full disk while writing?); restore it from git or a backup, or delete it to start an empty queue`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const offset = syntaxErrorOffset(text, message);
    const where = offset === null ? '' : ` (${lineColumn(text, offset)})`;
    throw invalid(`${file} is not valid JSON${where}: ${message}; fix it by hand or restore it from git`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${file}: expected an object {"version": 1, "jobs": [...]}`);
  const doc = raw as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.includes(key)) throw invalid(`${file}: unknown top-level field "${key}"; expected ${TOP_LEVEL_KEYS.join(', ')}`);
  }
  const queues = doc.queues === undefined ? undefined : topLevel(file, () => queuesCheck(doc.queues));
  const schedules = doc.schedules === undefined ? undefined : topLevel(file, () => schedulesCheck(doc.schedules));
  let archived: Archived | undefined;
  if (doc.archived !== undefined) {
    try {
      archived = archivedCheck(doc.archived);
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      throw invalid(`${file}: ${error.message}`);
    }
  }
  if (doc.version !== FORMAT_VERSION) throw invalid(`${file}: unsupported version ${JSON.stringify(doc.version)}; this queuectl reads version ${FORMAT_VERSION}`);
  if (!Array.isArray(doc.jobs)) throw invalid(`${file}: field "jobs" must be an array`);
  const check = jobCheck(defaults);
  const seen = new Set<string>();
  const jobs = doc.jobs.map((entry: unknown, index: number) => {
    const name = typeof entry === 'object' && entry !== null && typeof (entry as Job).id === 'string' ? `job "${(entry as Job).id}" (#${index + 1})` : `job #${index + 1}`;
    let job: Job;
    try {
      job = check(entry);
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      throw invalid(`${file}: ${name}: ${error.message.replace(/^job: /, '')}`);
    }
    if (seen.has(job.id)) throw invalid(`${file}: ${name}: duplicate id "${job.id}"; every job needs its own id`);
    if (job.after.includes(job.id)) throw invalid(`${file}: ${name}: field "after": a job cannot wait for itself`);
    seen.add(job.id);
    return job;
  });
  return {
    version: FORMAT_VERSION,
    ...(archived && { archived }),
    ...(queues && Object.keys(queues).length > 0 && { queues }),
    ...(schedules && schedules.length > 0 && { schedules }),
    jobs,
  };
}

const TOP_LEVEL_KEYS = ['version', 'archived', 'queues', 'schedules', 'jobs'];

function topLevel<T>(file: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    throw invalid(`${file}: ${error.message}`);
  }
}

const queueSettings = object<QueueSettings>({ parallel: nullable(int(1, 10_000)), paused: (v) => (typeof v === 'boolean' ? v : fail(`expected true or false, got ${JSON.stringify(v)}`)) }, { parallel: null, paused: false }, 'queue');

const queuesCheck: Check<Queues> = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('queues: expected an object of queue names and settings such as {"gpu": {"parallel": 1, "paused": false}}');
  return Object.fromEntries(
    Object.entries(v).map(([name, settings]) => {
      if (!isQueueKey(name)) fail(`queues: invalid queue name ${JSON.stringify(name)}: use letters, digits and . _ - (at most 64)`);
      try {
        return [name, queueSettings(settings)];
      } catch (error) {
        if (error instanceof FieldError) fail(`queues: "${name}": ${error.message.replace(/^queue: /, '')}`);
        throw error;
      }
    }),
  );
};

const template = object<JobTemplate>(
  { command: nonEmpty, cwd: nonEmpty, max_retries: runs, priority: int(-1_000_000, 1_000_000), queue: queueName, timeout: nullable(duration), no_retry_on: intList, env: envVars },
  { priority: 0, queue: DEFAULT_QUEUE, timeout: null, no_retry_on: [], env: {} },
  'job',
);

const schedule = object<Schedule>(
  {
    name: (v) => (typeof v === 'string' && SCHEDULE_NAME.test(v) ? v : fail(`invalid name ${JSON.stringify(v)}: use letters, digits and . _ - (at most 64)`)),
    cron: nonEmpty,
    tz: nullable(nonEmpty),
    job: template,
    created_at: time,
    last_fired_at: nullable(time),
    next_at: time,
  },
  { tz: null, last_fired_at: null },
  'schedule',
);

const schedulesCheck: Check<Schedule[]> = (v) => {
  if (!Array.isArray(v)) return fail('schedules: expected an array');
  const names = new Set<string>();
  return v.map((entry, index) => {
    const where = typeof (entry as Schedule)?.name === 'string' ? `schedule "${(entry as Schedule).name}"` : `schedule #${index + 1}`;
    let checked: Schedule;
    try {
      checked = schedule(entry);
    } catch (error) {
      if (error instanceof FieldError) fail(`schedules: ${where}: ${error.message.replace(/^schedule: /, '')}`);
      throw error;
    }
    if (names.has(checked.name)) fail(`schedules: ${where}: duplicate name; every schedule needs its own name`);
    names.add(checked.name);
    return checked;
  });
};

/** Validates one job object against the schema, as it would be read back from the file. */
export function checkJob(value: unknown, defaults: JobDefaults): Job {
  try {
    return jobCheck(defaults)(value);
  } catch (error) {
    if (error instanceof FieldError) throw invalid(error.message.replace(/^job: /, ''));
    throw error;
  }
}

/**
 * Each job's bytes, indented for its place in the file. Jobs are never changed in place, so a job
 * object always has the same bytes: a supervisor's rewrite encodes only the jobs it changed, and
 * the file is a copy of cached buffers (a string join of them, then its UTF-8 encoding, cost a
 * busy supervisor more than anything else it did).
 */
const jobBytes = new WeakMap<Job, Buffer>();

function encodeJob(job: Job): Buffer {
  let bytes = jobBytes.get(job);
  if (bytes === undefined) {
    bytes = Buffer.from(`    ${JSON.stringify(canonicalJob(job), null, 2).replace(/\n/g, '\n    ')}`);
    jobBytes.set(job, bytes);
  }
  return bytes;
}

const BETWEEN_JOBS = Buffer.from(',\n');

/** The same bytes as `JSON.stringify(doc, null, 2)` with keys in their fixed order, and a newline. */
export function encodeJobs(doc: JobsDocument): Buffer {
  // `archived` appears once something has been archived: a small queue's file stays minimal.
  const { completed, cancelled } = doc.archived ?? NOTHING_ARCHIVED;
  const archived = completed + cancelled > 0 ? `  "archived": {\n    "completed": ${completed},\n    "cancelled": ${cancelled}\n  },\n` : '';
  const indent = (value: unknown) => JSON.stringify(value, null, 2).replace(/\n/g, '\n  ');
  // Like `archived`, queue settings and schedules appear only once there are some.
  const queues = doc.queues && Object.keys(doc.queues).length > 0 ? `  "queues": ${indent(canonicalQueues(doc.queues))},\n` : '';
  const schedules = doc.schedules && doc.schedules.length > 0 ? `  "schedules": ${indent(doc.schedules.map(canonicalSchedule))},\n` : '';
  const head = `{\n  "version": ${JSON.stringify(doc.version)},\n${archived}${queues}${schedules}  "jobs": `;
  if (doc.jobs.length === 0) return Buffer.from(`${head}[]\n}\n`);
  const parts: Buffer[] = [Buffer.from(`${head}[\n`)];
  doc.jobs.forEach((job, index) => {
    if (index > 0) parts.push(BETWEEN_JOBS);
    parts.push(encodeJob(job));
  });
  parts.push(Buffer.from('\n  ]\n}\n'));
  return Buffer.concat(parts);
}

export function serializeJobs(doc: JobsDocument): string {
  return encodeJobs(doc).toString('utf8');
}

const JOB_KEYS: (keyof Job)[] = [
  'id', 'command', 'state', 'attempts', 'max_retries', 'priority', 'queue', 'after', 'schedule', 'run_at', 'timeout', 'no_retry_on', 'backoff_max', 'backoff_jitter', 'cwd', 'env',
  'created_at', 'updated_at', 'started_at', 'finished_at', 'recoveries', 'last_error', 'owner', 'history',
];
const ATTEMPT_KEYS: (keyof Attempt)[] = ['started_at', 'finished_at', 'duration_ms', 'outcome', 'exit_code', 'signal', 'error', 'retry_at'];
const OWNER_KEYS: (keyof Owner)[] = ['pid', 'started', 'host', 'worker'];
const TEMPLATE_KEYS: (keyof JobTemplate)[] = ['command', 'cwd', 'max_retries', 'priority', 'queue', 'timeout', 'no_retry_on', 'env'];
const SCHEDULE_KEYS: (keyof Schedule)[] = ['name', 'cron', 'tz', 'job', 'created_at', 'last_fired_at', 'next_at'];

function canonicalQueues(queues: Queues): Queues {
  const names = Object.keys(queues).sort();
  return Object.fromEntries(names.map((name) => [name, { parallel: queues[name]!.parallel, paused: queues[name]!.paused }]));
}

function canonicalSchedule(entry: Schedule): Schedule {
  return { ...pick(entry, SCHEDULE_KEYS), job: pick(entry.job, TEMPLATE_KEYS) };
}



function pick<T>(value: T, keys: (keyof T)[]): T {
  return Object.fromEntries(keys.map((key) => [key, value[key]])) as T;
}

/** A job as jobs.json holds it and `--json` prints it. */
export type StoredJob = Omit<Job, 'queue' | 'after' | 'schedule' | 'backoff_max' | 'backoff_jitter'> & Partial<Pick<Job, 'queue' | 'after' | 'schedule' | 'backoff_max' | 'backoff_jitter'>>;

/**
 * The job's keys in their fixed order. The workflow fields are left out while they have their
 * defaults (queue "default", no dependencies, no schedule): a job that uses none of them has the
 * same bytes as before they existed, so an older jobs.json stays byte for byte as it was.
 */
export function canonicalJob(job: Job): StoredJob {
  const stored: StoredJob = {
    ...pick(job, JOB_KEYS),
    // Variables in name order: the same variables give the same bytes, however they were given.
    env: Object.fromEntries(Object.entries(job.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    owner: job.owner && pick(job.owner, OWNER_KEYS),
    history: job.history.map((entry) => pick(entry, ATTEMPT_KEYS)),
  };
  if (job.queue === DEFAULT_QUEUE) delete stored.queue;
  if (job.after.length === 0) delete stored.after;
  if (job.schedule === null) delete stored.schedule;
  if (job.backoff_max === null) delete stored.backoff_max;
  if (job.backoff_jitter === null) delete stored.backoff_jitter;
  return stored;
}

/** The whole job in the fixed key order, workflow fields included: what `--json` prints, so scripts always find every key. */
export function fullJob(job: Job): Job {
  return pick({ ...canonicalJob(job), queue: job.queue, after: job.after, schedule: job.schedule, backoff_max: job.backoff_max, backoff_jitter: job.backoff_jitter } as Job, JOB_KEYS);
}

/** A job read back from its stored form (no key order kept, as in jsonb), with the left-out fields at their defaults. */
export function fromStored(stored: StoredJob): Job {
  return fullJob({ ...(stored as Job), queue: stored.queue ?? DEFAULT_QUEUE, after: stored.after ?? [], schedule: stored.schedule ?? null, backoff_max: stored.backoff_max ?? null, backoff_jitter: stored.backoff_jitter ?? null });
}
