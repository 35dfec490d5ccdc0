import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

// ---

const cwd = suite('a missing working directory');

scenario(cwd, 'makes the job dead after one run, without a backoff, naming the directory', async (s) => {
  const gone = s.path('gone');
  fs.mkdirSync(gone);
  s.ok('enqueue', JSON.stringify({ id: 'lost', command: 'true', cwd: 'gone', max_retries: 5 }));
  fs.rmdirSync(gone);
  const supervisor = await s.start(1);
  const job = await s.waitJob('lost', (j) => j.state !== 'pending' && j.state !== 'processing', 'to finish its run');
  assert.is(job.state, 'dead', 'dead at once, not failed and waiting for a retry');
  assert.is(job.attempts, 1);
  assert.is(job.last_error, `working directory ${gone} does not exist (never retried)`);
  assert.equal(job.history.map((run) => [run.outcome, run.error, run.retry_at]), [['failed', `working directory ${gone} does not exist`, null]]);
  await supervisor.waitLog(/job lost is dead after 1 run: working directory .*gone does not exist/);
});

cwd.run();

// ---

const env = suite('a job\'s env');

scenario(env, 'reaches the job\'s run only, over the inherited environment, and never over QUEUECTL_*', async (s) => {
  const out = s.path('out');
  s.ok('enqueue', '--id', 'with', '--env', 'GREETING=hello world', '--env', 'SHARED=from the job', '--', `printf '%s|%s|%s\\n' "$GREETING" "$SHARED" "$QUEUECTL_JOB_ID" >> '${out}'`);
  s.ok('enqueue', '--id', 'without', '--', `printf '%s|%s|%s\\n' "$GREETING" "$SHARED" "$QUEUECTL_JOB_ID" >> '${out}'`);
  await s.start(1, { SHARED: 'from the supervisor' });
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed'), 'both jobs to complete');
  assert.equal(lines(out).sort(), ['hello world|from the job|with', '|from the supervisor|without']);
  assert.is(fs.statSync(s.path('.queuectl', 'logs')).mode & 0o777, 0o700, 'output is as private as the store');
  assert.is(fs.statSync(s.path('.queuectl', 'logs', 'with.log')).mode & 0o777, 0o600);
});

env.run();

// ---

const restart = suite('restart');

scenario(restart, 'runs a completed job again with a fresh set of runs, its history growing', async (s) => {
  const runs = s.path('runs');
  s.ok('enqueue', '--id', 'again', '--max-retries', '2', '--', `echo run >> '${runs}'`);
  await s.start(1);
  const first = await s.waitJob('again', (job) => job.state === 'completed', 'to complete');
  assert.is(first.attempts, 1);
  assert.is(s.ok('restart', 'again'), 'restarted again\n');
  await waitFor(() => lines(runs).length === 2, { timeout: 5_000, what: 'the restarted job to run again' });
  const second = await s.waitJob('again', (job) => job.state === 'completed' && job.history.length === 2, 'to complete its second run');
  assert.is(second.attempts, 1, 'attempts started again from 0');
  assert.is(second.history[0]?.started_at, first.history[0]?.started_at, 'the first run is still in the history');
  assert.match(s.ok('show', 'again'), /^runs:\s+1 of 2$/m);
});

restart.run();
