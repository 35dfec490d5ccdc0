import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { serializeJobs } from '../../src/lifecycle/jobfile/encode.ts';
import { job } from '../support/factory.ts';
import { pgSuite } from '../support/postgres.ts';
import { tempDir } from '../support/tmp.ts';
import { accepts, deadJob, inTemp, jobsFile, readJobs, rejects, writeJobs } from './support/fixture.ts';

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function finished(id: string, state: 'completed' | 'cancelled', cwd: string, created: number): Job {
  const run = { started_at: minutesAgo(created - 1), finished_at: minutesAgo(created - 1), duration_ms: 5, outcome: 'completed' as const, exit_code: 0, signal: null, error: null, retry_at: null };
  return job({ id, state, cwd, attempts: state === 'completed' ? 1 : 0, created_at: minutesAgo(created), updated_at: minutesAgo(created - 1), run_at: minutesAgo(created), started_at: minutesAgo(created - 1), finished_at: minutesAgo(created - 1), history: state === 'completed' ? [run] : [] });
}

/**
 * A queue with jobs in every state but processing, queue settings, a schedule, and (with
 * keep-finished 1) finished jobs moved to the archive by the commands that set the rest.
 */
function seedQueue(cwd: string): void {
  writeJobs(cwd, [
    finished('done-1', 'completed', cwd, 50),
    finished('done-2', 'completed', cwd, 45),
    finished('gone', 'cancelled', cwd, 40),
    finished('done-3', 'completed', cwd, 35),
    deadJob('dead', 60_000, { cwd, created_at: minutesAgo(30) }),
    job({ id: 'retrying', state: 'failed', attempts: 1, cwd, created_at: minutesAgo(20), run_at: minutesAgo(-10), last_error: 'exit code 1' }),
    job({ id: 'gpu-job', cwd, queue: 'gpu', priority: 5, created_at: minutesAgo(10) }),
    job({ id: 'later', cwd, queue: 'slow', after: ['gpu-job'], created_at: minutesAgo(5) }),
  ]);
  accepts(['config', 'set', 'keep-finished', '1'], { cwd });
  accepts(['queue', 'set', 'gpu', '--parallel', '1'], { cwd });
  accepts(['queue', 'pause', 'slow'], { cwd });
  accepts(['schedule', 'add', 'nightly', '--cron', '0 3 * * *', '--', 'echo', 'nightly'], { cwd });
  assert.ok(fs.existsSync(path.join(cwd, '.queuectl', 'archive.jsonl')), 'finished jobs beyond keep-finished were archived');
  assert.is(readJobs(cwd).length, 5, 'jobs.json keeps one finished job');
}

const SEEDED = ['done-1', 'done-2', 'gone', 'done-3', 'dead', 'retrying', 'gpu-job', 'later'];

function listJson(cwd: string, env: NodeJS.ProcessEnv = {}): Job[] {
  return JSON.parse(accepts(['list', '--json'], { cwd, env }).stdout) as Job[];
}

/**
 * What a queue is besides its settings: its jobs, queues and schedules, as the CLI shows them.
 * Queues by their settings: their job counts leave archived jobs out, and keep-finished (a
 * setting, not part of the queue) decides how many are archived.
 */
function queueOf(cwd: string, env: NodeJS.ProcessEnv = {}) {
  const queues = JSON.parse(accepts(['queue', 'list', '--json'], { cwd, env }).stdout) as { name: string; parallel: number | null; paused: boolean }[];
  return {
    jobs: listJson(cwd, env),
    queues: queues.map(({ name, parallel, paused }) => ({ name, parallel, paused })),
    schedules: JSON.parse(accepts(['schedule', 'list', '--json'], { cwd, env }).stdout),
  };
}

function exportTo(cwd: string, file: string, env: NodeJS.ProcessEnv = {}): string {
  const { stdout } = accepts(['export'], { cwd, env });
  fs.writeFileSync(file, stdout);
  return stdout;
}

function inTwoDirs(body: (from: string, to: string) => void): () => void {
  return inTemp((dir) => {
    const from = path.join(dir, 'from');
    const to = path.join(dir, 'to');
    fs.mkdirSync(from);
    fs.mkdirSync(to);
    body(from, to);
  });
}

// ---

const transfer = suite('export and import');

transfer('export prints every job (archived ones too), the queue settings and the schedules; import loads them all into another store', inTwoDirs((from, to) => {
  seedQueue(from);
  const file = path.join(from, 'queue.json');
  const text = exportTo(from, file);
  const exported = JSON.parse(text) as { version: number; jobs: Job[]; queues: unknown; schedules: { name: string }[]; archived?: unknown };
  assert.is(exported.version, 1);
  assert.equal(exported.jobs.map((entry) => entry.id).sort(), [...SEEDED].sort());
  assert.equal(exported.queues, { gpu: { parallel: 1, paused: false }, slow: { parallel: null, paused: true } });
  assert.equal(exported.schedules.map((schedule) => schedule.name), ['nightly']);
  assert.is(exported.archived, undefined, 'nothing is counted as archived: every job is in the document');

  const imported = accepts(['import', file], { cwd: to });
  assert.is(imported.stdout, `imported 8 jobs and 1 schedule into ${path.join(to, '.queuectl')}\n`);
  assert.equal(queueOf(to), queueOf(from));
  assert.is(accepts(['export'], { cwd: to }).stdout, text, 'exporting the imported queue gives the same document');
}));

transfer('import reads stdin with -, and a plain jobs.json', inTwoDirs((from, to) => {
  writeJobs(from, [job({ id: 'a', cwd: from }), deadJob('b', 60_000, { cwd: from })]);
  const result = accepts(['import', '-'], { cwd: to, input: fs.readFileSync(jobsFile(from), 'utf8') });
  assert.is(result.stdout, `imported 2 jobs into ${path.join(to, '.queuectl')}\n`);
  assert.equal(listJson(to), listJson(from));
}));

transfer('a job that was processing comes in pending, with why', inTwoDirs((from, to) => {
  const owner = { pid: 99_999, started: '1', host: 'elsewhere', worker: 1 };
  writeJobs(from, [job({ id: 'running', state: 'processing', attempts: 0, cwd: from, owner, started_at: minutesAgo(1) }), job({ id: 'waiting', cwd: from })]);
  accepts(['import', jobsFile(from)], { cwd: to });
  const [running, waiting] = listJson(to);
  assert.equal([running!.id, running!.state, running!.owner], ['running', 'pending', null]);
  assert.match(running!.last_error ?? '', /imported while it was running in another store/);
  assert.is(running!.attempts, 0, 'the interrupted run is not a spent attempt');
  assert.equal([waiting!.id, waiting!.state], ['waiting', 'pending']);
}));

transfer('a missing file: exit 2, nothing created', inTemp((cwd) => {
  rejects(['import', 'nowhere.json'], { cwd }, { status: 2, message: /^queuectl: cannot read nowhere\.json: no such file\n$/ });
}));

transfer('a file that is not a queue: exit 2, the message names the file', inTemp((cwd) => {
  fs.writeFileSync(path.join(cwd, 'notes.json'), '{"hello": 1}\n');
  fs.writeFileSync(path.join(cwd, 'notes.txt'), 'hello\n');
  rejects(['import', 'notes.json'], { cwd }, { status: 2, message: /^queuectl: notes\.json: unknown top-level field "hello"/ });
  rejects(['import', 'notes.txt'], { cwd }, { status: 2, message: /^queuectl: notes\.txt is not valid JSON/ });
}));

transfer('an id the store has already, live or archived: exit 4, nothing imported, the store unchanged', inTwoDirs((from, to) => {
  seedQueue(to);
  const live = path.join(from, 'live.json');
  fs.writeFileSync(live, serializeJobs({ version: 1, jobs: [job({ id: 'new-one', cwd: from }), job({ id: 'gpu-job', cwd: from })] }));
  rejects(['import', live], { cwd: to }, { status: 4, message: /^queuectl: the store already has job "gpu-job"; nothing was imported/ });
  const archived = path.join(from, 'archived.json');
  fs.writeFileSync(archived, serializeJobs({ version: 1, jobs: [job({ id: 'done-1', cwd: from })] }));
  rejects(['import', archived], { cwd: to }, { status: 4, message: /^queuectl: the store already has job "done-1"; nothing was imported/ });
  assert.not.ok(listJson(to).some((entry) => entry.id === 'new-one'));
}));

transfer('a schedule the store has already: exit 4, nothing imported', inTwoDirs((from, to) => {
  seedQueue(from);
  accepts(['schedule', 'add', 'nightly', '--cron', '0 4 * * *', '--', 'echo', 'mine'], { cwd: to });
  const file = path.join(from, 'queue.json');
  exportTo(from, file);
  rejects(['import', file], { cwd: to }, { status: 4, message: /^queuectl: the store already has schedule "nightly"; nothing was imported/ });
}));

transfer.run();

// ---

const roundTrip = pgSuite('export and import through PostgreSQL');

roundTrip('file store → PostgreSQL → file store: the same jobs, queues and schedules', async ({ server }) => {
  const url = await server.createDatabase();
  const pg = { QUEUECTL_DATABASE_URL: url };
  const { dir, cleanup } = tempDir('queuectl-cli-');
  try {
    const root = fs.realpathSync(dir);
    const [from, via, to] = ['from', 'via', 'to'].map((name) => path.join(root, name));
    for (const each of [from!, via!, to!]) fs.mkdirSync(each);
    seedQueue(from!);
    const first = path.join(root, 'from-file.json');
    exportTo(from!, first);

    const intoPg = accepts(['import', first], { cwd: via!, env: pg });
    assert.match(intoPg.stdout, /^imported 8 jobs and 1 schedule into database "test_\d+" at 127\.0\.0\.1:\d+\n$/);
    assert.equal(queueOf(via!, pg), queueOf(from!), 'PostgreSQL holds the same queue');
    const second = path.join(root, 'from-postgres.json');
    exportTo(via!, second, pg);
    assert.not.ok(fs.existsSync(path.join(via!, '.queuectl')), 'the PostgreSQL store wrote nothing into the directory');

    accepts(['import', second], { cwd: to! });
    assert.equal(queueOf(to!), queueOf(from!));
    assert.is(fs.readFileSync(second, 'utf8'), fs.readFileSync(first, 'utf8'), 'both stores export the same document');

    rejects(['import', second], { cwd: via!, env: pg }, { status: 4, message: /^queuectl: the store already has jobs "done-1", "done-2", "gone", "done-3", "dead" and 3 more; nothing was imported/ });
  } finally {
    cleanup();
  }
});

roundTrip.run();
