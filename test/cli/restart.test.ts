import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serializeArchive } from '../../src/store/file/archive.ts';
import type { Job } from '../../src/lifecycle/job.ts';
import { serializeJobs } from '../../src/lifecycle/jobfile/encode.ts';
import { job } from '../support/factory.ts';
import { accepts, deadJob, inTemp, readJobs, rejects, writeJobs, writeJobsText } from './support/fixture.ts';

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
const byId = (jobs: readonly Job[]) => Object.fromEntries(jobs.map((entry) => [entry.id, entry]));

function finished(id: string, state: 'completed' | 'cancelled', cwd: string, created: number): Job {
  const run = { started_at: minutesAgo(created - 1), finished_at: minutesAgo(created - 1), duration_ms: 5, outcome: 'completed' as const, exit_code: 0, signal: null, error: null, retry_at: null };
  return job({ id, state, cwd, attempts: state === 'completed' ? 1 : 0, created_at: minutesAgo(created), updated_at: minutesAgo(created - 1), run_at: minutesAgo(created), started_at: minutesAgo(created - 1), finished_at: minutesAgo(created - 1), history: state === 'completed' ? [run] : [] });
}

function seed(cwd: string): void {
  writeJobs(cwd, [
    finished('done', 'completed', cwd, 50),
    deadJob('dead', 60_000, { cwd, recoveries: 1 }),
    finished('gone', 'cancelled', cwd, 40),
    job({ id: 'waiting', cwd }),
    job({ id: 'retrying', state: 'failed', attempts: 1, cwd }),
    job({ id: 'running', state: 'processing', attempts: 1, cwd, owner: { pid: 99999, started: '1', host: 'elsewhere', worker: 1 }, started_at: minutesAgo(1) }),
  ]);
}

// ---

const restart = suite('restart');

restart('puts completed, dead and cancelled jobs back to pending with fresh runs, history kept', inTemp((cwd) => {
  seed(cwd);
  const before = byId(readJobs(cwd));
  const started = Date.now();
  assert.is(accepts(['restart', 'done', 'dead', 'gone'], { cwd }).stdout, 'restarted done\nrestarted dead\nrestarted gone\n');
  const after = byId(readJobs(cwd));
  for (const id of ['done', 'dead', 'gone']) {
    const job = after[id]!;
    assert.is(job.state, 'pending', id);
    assert.is(job.attempts, 0, id);
    assert.is(job.recoveries, 0, id);
    assert.ok(Date.parse(job.run_at) >= started - 1000 && Date.parse(job.run_at) <= Date.now(), `${id} is due now`);
    assert.is(job.started_at, null, id);
    assert.is(job.finished_at, null, id);
    assert.equal(job.history, before[id]!.history, `${id} keeps its history`);
    assert.is(job.created_at, before[id]!.created_at, id);
    assert.is(job.max_retries, before[id]!.max_retries, id);
  }
  assert.is(after.dead!.last_error, 'exit code 1', 'the last error stays until the next run');
  assert.equal(readJobs(cwd).map((entry) => entry.id), ['done', 'dead', 'gone', 'waiting', 'retrying', 'running'], 'every job keeps its place');
  assert.match(accepts(['show', 'dead'], { cwd }).stdout, /^runs:\s+0 of 3$/m);
}));

restart('refuses a pending, failed or processing job with exit 4, naming its state, and changes nothing', inTemp((cwd) => {
  seed(cwd);
  for (const [id, state] of [['waiting', 'pending'], ['retrying', 'failed'], ['running', 'processing']]) {
    rejects(['restart', id!], { cwd }, { status: 4, message: new RegExp(`job "${id}" is ${state}, not finished; only completed, dead or cancelled jobs can be restarted`) });
  }
}));

restart('refuses an unknown id with exit 3', inTemp((cwd) => {
  seed(cwd);
  rejects(['restart', 'ghost'], { cwd }, { status: 3, message: /no job with id "ghost"/ });
}));

restart('with several ids, one that cannot be restarted leaves every job alone', inTemp((cwd) => {
  seed(cwd);
  rejects(['restart', 'done', 'ghost', 'dead'], { cwd }, { status: 3, message: /no job with id "ghost"/ });
  rejects(['restart', 'done', 'dead', 'waiting'], { cwd }, { status: 4, message: /job "waiting" is pending/ });
}));

restart('needs at least one id', inTemp((cwd) => {
  rejects(['restart'], { cwd }, { status: 2, message: /Not enough positional arguments|restart/ });
}));

restart.run();

// ---

const archived = suite('restart of an archived job');

archived('brings it back into jobs.json at its place by creation, off the archive and its totals', inTemp((cwd) => {
  const old = finished('old', 'completed', cwd, 90);
  const kept = finished('kept', 'cancelled', cwd, 80);
  writeJobsText(cwd, serializeJobs({ version: 1, archived: { completed: 1, cancelled: 1 }, jobs: [finished('newer', 'completed', cwd, 60), job({ id: 'latest', cwd, created_at: minutesAgo(1) })] }));
  fs.writeFileSync(path.join(cwd, '.queuectl', 'archive.jsonl'), serializeArchive([old, kept]));
  assert.is(accepts(['restart', 'old'], { cwd }).stdout, 'restarted old\n');

  const file = JSON.parse(fs.readFileSync(path.join(cwd, '.queuectl', 'jobs.json'), 'utf8')) as { archived: { completed: number; cancelled: number }; jobs: Job[] };
  assert.equal(file.jobs.map((entry) => entry.id), ['old', 'newer', 'latest']);
  assert.is(file.jobs[0]?.state, 'pending');
  assert.equal(file.jobs[0]?.history, old.history);
  assert.equal(file.archived, { completed: 0, cancelled: 1 });
  const archiveLines = fs.readFileSync(path.join(cwd, '.queuectl', 'archive.jsonl'), 'utf8').split('\n').filter(Boolean);
  assert.equal(archiveLines.map((line) => (JSON.parse(line) as Job).id), ['kept'], 'only the other archived job is left there');

  const listed = JSON.parse(accepts(['list', '--json'], { cwd }).stdout) as Job[];
  assert.equal(listed.filter((entry) => entry.id === 'old').map((entry) => entry.state), ['pending'], 'listed once, as pending');
  const status = JSON.parse(accepts(['status', '--json'], { cwd }).stdout) as { counts: Record<string, number> };
  assert.equal([status.counts.pending, status.counts.completed, status.counts.cancelled], [2, 1, 1]);
}));

archived('a copy left in the archive by a crash is ignored, and clean does not count it', inTemp((cwd) => {
  const old = finished('old', 'completed', cwd, 90);
  // What a crash between the two commits of a restart leaves: the job live again, its old line still archived.
  writeJobsText(cwd, serializeJobs({ version: 1, jobs: [{ ...old, state: 'pending', attempts: 0, started_at: null, finished_at: null }] }));
  fs.writeFileSync(path.join(cwd, '.queuectl', 'archive.jsonl'), serializeArchive([old]));
  const listed = JSON.parse(accepts(['list', '--json'], { cwd }).stdout) as Job[];
  assert.equal(listed.map((entry) => [entry.id, entry.state]), [['old', 'pending']]);
  assert.is(accepts(['clean'], { cwd }).stdout, 'removed 0 finished jobs\n');
  assert.equal(readJobs(cwd).map((entry) => [entry.id, entry.state]), [['old', 'pending']]);
}));

archived.run();
