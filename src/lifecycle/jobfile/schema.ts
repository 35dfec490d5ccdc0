/**
 * What a valid job, schedule and queue setting is: one check per field, as the file is read
 * back. Only `id` and `command` are required of a hand-added job; the rest get what `enqueue`
 * would have given it.
 */
import { invalid } from '../error.ts';
import { createJob, DEFAULT_QUEUE, OUTCOMES, STATES, type Attempt, type Job, type Owner } from '../job.ts';
import { isQueueKey, QUEUE_NAME, type Queues, type QueueSettings } from '../queue.ts';
import { SCHEDULE_NAME, type JobTemplate, type Schedule } from '../schedule.ts';
import { bool, duration, fail, FieldError, fraction, int, located, nonEmpty, nullable, object, oneOf, runs, str, time, type Check } from './checks.ts';
import type { Archived, JobDefaults } from './document.ts';

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

const envVars: Check<Record<string, string>> = (v) => {
  const problem = envProblem(v);
  return problem === null ? (v as Record<string, string>) : fail(problem);
};
const jobId: Check<string> = (v) => (typeof v === 'string' && ID_PATTERN.test(v) ? v : fail(`invalid id ${JSON.stringify(v)}: use letters, digits and . _ : @ + - (at most 128)`));
const queueName: Check<string> = (v) => (typeof v === 'string' && QUEUE_NAME.test(v) ? v : fail(`invalid queue name ${JSON.stringify(v)}: use letters, digits and . _ - (at most 64)`));
const idList: Check<string[]> = (v) => (Array.isArray(v) ? v.map(jobId) : fail(`expected an array of job ids, got ${JSON.stringify(v)}`));
const intList: Check<number[]> = (v) => (Array.isArray(v) ? v.map(int(0, 255)) : fail(`expected an array of exit codes, got ${JSON.stringify(v)}`));
const priority = int(-1_000_000, 1_000_000);

export const archivedCheck = object<Archived>({ completed: int(0), cancelled: int(0) }, { completed: 0, cancelled: 0 }, 'archived');

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

export function jobCheck(defaults: JobDefaults): Check<Job> {
  return object<Job>(
    {
      id: jobId,
      command: nonEmpty,
      state: oneOf(STATES),
      attempts: int(0),
      max_retries: runs,
      priority,
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

/** Validates one job object against the schema, as it would be read back from the file. */
export function checkJob(value: unknown, defaults: JobDefaults): Job {
  return located(() => jobCheck(defaults)(value), (message) => invalid(message.replace(/^job: /, '')));
}

const queueSettings = object<QueueSettings>({ parallel: nullable(int(1, 10_000)), paused: bool }, { parallel: null, paused: false }, 'queue');

export const queuesCheck: Check<Queues> = (v) => {
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
  { command: nonEmpty, cwd: nonEmpty, max_retries: runs, priority, queue: queueName, timeout: nullable(duration), no_retry_on: intList, env: envVars },
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

export const schedulesCheck: Check<Schedule[]> = (v) => {
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
