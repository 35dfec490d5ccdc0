import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueError } from '../src/lifecycle/error.ts';
import type { Job } from '../src/lifecycle/job.ts';
import { toStored } from '../src/lifecycle/jobfile/keys.ts';
import { parseJobs, parseWritten } from '../src/lifecycle/jobfile/parse.ts';
import { adoptWritten, encodeJobs, serializeJobs } from '../src/lifecycle/jobfile/encode.ts';
import type { JobsDocument } from '../src/lifecycle/jobfile/document.ts';
import type { Schedule } from '../src/lifecycle/schedule.ts';
import { at, job, T0 } from './support/factory.ts';

const FILE = '/projects/demo/.queuectl/jobs.json';
const defaults = { now: at(90), max_retries: 5, cwd: '/projects/demo' };

const parse = (text: string): JobsDocument => parseJobs(text, FILE, defaults);
const fileWith = (...jobs: unknown[]): string => JSON.stringify({ version: 1, jobs }, null, 2);

/** A job that uses every field, nested ones included. */
function busyJob(): Job {
  return job({
    id: 'report.daily',
    command: 'make report',
    state: 'failed',
    attempts: 1,
    priority: 7,
    timeout: '5m',
    no_retry_on: [2, 127],
    env: { STAGE: 'prod', TOKEN: 'a b' },
    last_error: 'exit code 1',
    history: [
      { started_at: at(1).toISOString(), finished_at: at(2).toISOString(), duration_ms: 1000, outcome: 'failed', exit_code: 1, signal: null, error: 'boom', retry_at: at(4).toISOString() },
    ],
  });
}

/** The same object with its keys (and its nested objects' keys) in reverse order. */
function shuffled<T>(value: T): T {
  if (Array.isArray(value)) return value.map(shuffled) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([key, inner]) => [key, shuffled(inner)])) as T;
}

function rejects(text: string, ...parts: string[]): string {
  try {
    parse(text);
  } catch (error) {
    assert.instance(error, QueueError);
    assert.is((error as QueueError).code, 'invalid-input');
    assert.is((error as QueueError).exitStatus, 2);
    const { message } = error as QueueError;
    assert.ok(message.includes(FILE), `names the file: ${message}`);
    for (const part of parts) assert.ok(message.includes(part), `mentions ${part}: ${message}`);
    return message;
  }
  assert.unreachable(`accepted ${JSON.stringify(text)}`);
  return '';
}

// ---

const format = suite('serializeJobs');

format('gives the same bytes for the same state, through any number of round trips', () => {
  const doc = { version: 1, jobs: [busyJob(), job({ id: 'b', owner: { pid: 42, started: '1700000000', host: 'box', worker: 2 }, state: 'processing' })] };
  const once = serializeJobs(doc);
  const twice = serializeJobs(parse(once));
  assert.is(twice, once);
  assert.is(serializeJobs(parse(twice)), once);
});

format('fixes the key order whatever order the objects were built in', () => {
  const ordered = { version: 1, jobs: [busyJob(), job({ id: 'b', owner: { pid: 42, started: '1', host: 'box', worker: 2 } })] };
  const reordered = shuffled(ordered);
  assert.not.equal(Object.keys(reordered.jobs[0] as Job), Object.keys(ordered.jobs[0] as Job));
  assert.is(serializeJobs(reordered), serializeJobs(ordered));
  assert.is(serializeJobs(parse(JSON.stringify(reordered))), serializeJobs(ordered));
  assert.equal(Object.keys(JSON.parse(serializeJobs(reordered)).jobs[0]).slice(0, 4), ['id', 'command', 'state', 'attempts']);
});

format('is indented with two spaces and ends with exactly one newline', () => {
  const text = serializeJobs({ version: 1, jobs: [busyJob()] });
  assert.ok(text.startsWith('{\n  "version": 1,\n  "jobs": [\n    {\n      "id": "report.daily",'), text.slice(0, 80));
  assert.ok(text.endsWith('}\n') && !text.endsWith('\n\n'));
  assert.is(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
});

format.run();

// ---

const read = suite('parseJobs');

read('reads a hand-added minimal job with the defaults filled in', () => {
  const doc = parse('{"version": 1, "jobs": [{"id": "x", "command": "echo hi"}]}');
  assert.equal(doc.jobs, [
    job({ id: 'x', command: 'echo hi', max_retries: 5, cwd: '/projects/demo', run_at: at(90).toISOString(), created_at: at(90).toISOString(), updated_at: at(90).toISOString() }),
  ]);
});

read('normalizes times to ISO 8601 UTC', () => {
  const doc = parse(fileWith({ id: 'x', command: 'true', run_at: '2026-01-01T02:00:00+02:00' }));
  assert.is(doc.jobs[0]?.run_at, T0.toISOString());
});

read('reads a file written before jobs had an env: the job gets an empty one, and keeps it in its place', () => {
  const { env: _env, ...old } = busyJob();
  const doc = parse(fileWith(old));
  assert.equal(doc.jobs[0]?.env, {});
  assert.equal(doc.jobs[0], { ...busyJob(), env: {} });
  const written = serializeJobs(doc);
  assert.match(written, /"cwd": "\/tmp",\n      "env": \{\},\n      "created_at"/);
});

read.run();

// ---

const invalid = suite('parseJobs errors');

invalid('a syntax error gives the line and column of a trailing comma', () => {
  const text = `${fileWith(job({ id: 'a' }), job({ id: 'b' })).replace(/\n  \]\n\}$/, ',\n  ]\n}')}`;
  const lines = text.split('\n');
  rejects(text, 'not valid JSON', `(line ${lines.length - 1}, column 3)`);
});

invalid('a syntax error gives the line and column of a missing comma', () => {
  rejects('{\n  "version": 1,\n  "jobs": [\n    {"id": "a" "command": "x"}\n  ]\n}\n', 'not valid JSON', '(line 4, column 16)');
});

invalid('a bare word gives its line and column', () => {
  rejects('{\n  "version": 1,\n  "jobs": [{"id": "a", "command": tru}]\n}\n', '(line 3, column 38)');
});

invalid('a truncated file gives the line and column where it ends', () => {
  rejects('{\n  "version": 1,\n  "jobs": [\n    {"id": "a", "command": ', 'not valid JSON', '(line 4, column 28)');
});

invalid('an unknown state names the job and the field', () => {
  rejects(fileWith(job({ id: 'a' }), { ...job({ id: 'b' }), state: 'paused' }), 'job "b" (#2)', 'field "state"', '"paused"');
});

invalid('a missing command names the job and the field', () => {
  rejects(fileWith({ id: 'a' }), 'job "a" (#1)', 'missing field "command"');
});

invalid('a duplicate id names the second job', () => {
  rejects(fileWith(job({ id: 'a' }), job({ id: 'b' }), job({ id: 'a' })), 'job "a" (#3)', 'duplicate id "a"');
});

invalid('an unknown field names the job and the field', () => {
  rejects(fileWith({ ...job({ id: 'a' }), colour: 'red' }), 'job "a" (#1)', 'unknown field "colour"');
});

invalid('a bad nested field names the job, the field and the nested field', () => {
  rejects(fileWith(job({ id: 'a', owner: { pid: 0, started: '1', host: 'h', worker: 1 } })), 'job "a" (#1)', 'field "owner"', 'field "pid"');
});

invalid('max_retries 0 names the job and the field, and says a job gets at least one run', () => {
  rejects(fileWith(job({ id: 'a', max_retries: 0 })), 'job "a" (#1)', 'field "max_retries"', 'a job gets at least one run');
});

invalid('a bad env names the job, the field and the variable', () => {
  rejects(fileWith(job({ id: 'a', env: { '1X': 'v' } })), 'job "a" (#1)', 'field "env"', 'invalid variable name "1X"');
  rejects(fileWith({ ...job({ id: 'a' }), env: { X: 1 } }), 'field "env"', 'the value of X must be a string');
  rejects(fileWith(job({ id: 'a', env: { QUEUECTL_HOME: '/elsewhere' } })), 'field "env"', 'QUEUECTL_HOME');
  rejects(fileWith({ ...job({ id: 'a' }), env: ['X=1'] }), 'field "env"', 'expected an object');
});

invalid('a job without a usable id is named by its position', () => {
  rejects(fileWith(job({ id: 'a' }), { command: 'x' }), 'job #2', 'missing field "id"');
});

invalid('a wrong version says which version this queuectl reads', () => {
  rejects('{"version": 2, "jobs": []}', 'unsupported version 2', 'reads version 1');
  rejects('{"jobs": []}', 'unsupported version');
});

invalid('an empty or blank file is called empty', () => {
  rejects('', 'is empty');
  rejects(' \n\n', 'is empty');
});

invalid('a NUL-filled file is called damaged, without quoting the NUL bytes', () => {
  const message = rejects('\0'.repeat(4096), 'damaged', 'NUL bytes', 'line 1, column 1');
  assert.not.ok(message.includes('\0'));
  rejects(`${fileWith(job())}\n${'\0'.repeat(100)}`, 'NUL bytes');
});

invalid.run();

// ---

const bytes = suite('serializeJobs bytes');

bytes('equals JSON.stringify with two spaces, for empty, archived and full documents', () => {
  const jobs = [job({ id: 'a', history: [{ started_at: T0.toISOString(), finished_at: T0.toISOString(), duration_ms: 1, outcome: 'failed', exit_code: 1, signal: null, error: 'exit code 1', retry_at: null }] }), job({ id: 'b', owner: { pid: 1, started: '2', host: 'h', worker: 1 }, state: 'processing' }), job({ id: 'c', no_retry_on: [2, 127] })];
  const docs = [
    { version: 1, jobs: [] },
    { version: 1, jobs },
    { version: 1, archived: { completed: 3, cancelled: 1 }, jobs },
    { version: 1, archived: { completed: 2, cancelled: 0 }, jobs: [] },
  ];
  for (const doc of docs) {
    const plain = `${JSON.stringify({ version: doc.version, ...('archived' in doc ? { archived: doc.archived } : {}), jobs: doc.jobs.map(toStored) }, null, 2)}\n`;
    assert.is(serializeJobs(doc), plain);
  }
});

const plainBytes = (doc: JobsDocument): string => `${JSON.stringify({ version: doc.version, jobs: doc.jobs.map(toStored) }, null, 2)}\n`;

bytes('a file read back as written gives the bytes of a fresh encoding after changes, appends and removals', () => {
  const jobs = Array.from({ length: 40 }, (_, i) => job({ id: `j${i}`, command: `echo ${i}`, env: i % 3 === 0 ? { B: '2', A: '1' } : {}, after: i % 5 === 0 && i > 0 ? [`j${i - 1}`] : [] }));
  const file = encodeJobs({ version: 1, jobs });
  const doc = parseWritten(file.toString('utf8'), FILE, defaults);
  assert.equal(doc, parse(file.toString('utf8')), 'the same jobs as a validating read');
  assert.ok(adoptWritten(doc.jobs, file));
  assert.is(serializeJobs(doc), file.toString('utf8'), 'unchanged');
  doc.jobs[7] = { ...doc.jobs[7]!, state: 'processing', owner: { pid: 1, started: '2', host: 'h', worker: 1 } };
  doc.jobs.splice(20, 2);
  doc.jobs.push(job({ id: 'new', command: 'added' }));
  doc.jobs.unshift(job({ id: 'first' }));
  assert.is(serializeJobs(doc), plainBytes(doc));
  doc.jobs.reverse();
  assert.is(serializeJobs(doc), plainBytes(doc), 'every job out of its old place');
});

bytes('a file without the layout queuectl writes is not taken apart, and still encodes right', () => {
  const jobs = [job({ id: 'a' }), job({ id: 'b' })];
  const compact = Buffer.from(JSON.stringify({ version: 1, jobs: jobs.map(toStored) }));
  const doc = parseWritten(compact.toString('utf8'), FILE, defaults);
  assert.not.ok(adoptWritten(doc.jobs, compact));
  assert.is(serializeJobs(doc), plainBytes(doc));
  // The layout looks right at both ends but one job is not where it should be: found out when a run is cut.
  const text = serializeJobs({ version: 1, jobs }).replace('    {\n      "id": "b"', '     {\n      "id": "b"');
  const odd = parseWritten(text, FILE, defaults);
  assert.ok(adoptWritten(odd.jobs, Buffer.from(text)));
  odd.jobs.splice(0, 1);
  assert.is(serializeJobs(odd), plainBytes(odd));
});

bytes.run();

// ---

const workflow = suite('jobs.json with queues, schedules and workflow fields');

const schedule: Schedule = {
  name: 'nightly',
  cron: '0 3 * * *',
  tz: 'Europe/Berlin',
  job: { command: './backup.sh', cwd: '/w', max_retries: 3, priority: 0, queue: 'default', timeout: null, no_retry_on: [], env: {} },
  created_at: T0.toISOString(),
  last_fired_at: null,
  next_at: at(3600).toISOString(),
};

workflow('a file without the new keys reads and writes back byte for byte', () => {
  const text = serializeJobs({ version: 1, jobs: [busyJob()] });
  assert.not.match(text, /"queue"|"after"|"schedule"|"queues"|"schedules"/);
  const doc = parse(text);
  assert.equal([doc.jobs[0]?.queue, doc.jobs[0]?.after, doc.jobs[0]?.schedule], ['default', [], null]);
  assert.is(serializeJobs(doc), text);
});

workflow('queues and schedules sit before the jobs in a fixed order, and round-trip from any key order', () => {
  const doc: JobsDocument = {
    version: 1,
    queues: { zeta: { parallel: null, paused: true }, gpu: { parallel: 1, paused: false } },
    schedules: [schedule],
    jobs: [busyJob(), job({ id: 'b', queue: 'gpu', after: ['report.daily'], schedule: 'nightly' })],
  };
  const text = serializeJobs(doc);
  assert.match(text, /^\{\n {2}"version": 1,\n {2}"queues": \{\n {4}"gpu": \{\n {6}"parallel": 1,\n {6}"paused": false\n {4}\},\n {4}"zeta"/);
  assert.match(text, /\n {2}\],\n {2}"jobs": \[/);
  assert.match(text, /"priority": 0,\n {6}"queue": "gpu",\n {6}"after": \[\n {8}"report.daily"\n {6}\],\n {6}"schedule": "nightly",\n {6}"run_at"/);
  assert.is(serializeJobs(parse(JSON.stringify(shuffled(JSON.parse(text))))), text);
});

workflow('a bad setting or schedule is reported with the file and the field', () => {
  const withTop = (top: object) => JSON.stringify({ version: 1, ...top, jobs: [] });
  rejects(withTop({ queues: { gpu: { parallel: 0 } } }), FILE, 'queues: "gpu": field "parallel"');
  rejects(withTop({ queues: { 'bad name': {} } }), 'invalid queue name "bad name"');
  rejects(withTop({ schedules: [{ ...schedule, next_at: 'soon' }] }), 'schedule "nightly"', 'field "next_at"');
  rejects(withTop({ schedules: [schedule, schedule] }), 'schedule "nightly": duplicate name');
  rejects(withTop({ pipelines: [] }), 'unknown top-level field "pipelines"');
  rejects(fileWith({ id: 'a', command: 'true', after: ['a'] }), 'job "a" (#1)', 'cannot wait for itself');
  rejects(fileWith({ id: 'a', command: 'true', queue: 'no/slash' }), 'field "queue"');
});

workflow.run();
