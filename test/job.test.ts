import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffSeconds, byPriority, claimJob, createJob, finishJob, isDue, MAX_RECOVERIES, nextDueTime, pickDue, recoverJob, retryJob, type RunResult } from '../src/job.ts';
import { computeMetrics } from '../src/metrics.ts';
import { at, job, T0 } from './support/factory.ts';

const owner = { pid: 100, started: '5', host: 'h', worker: 1 };

function run(exit_code: number | null, extra: Partial<RunResult> = {}): RunResult {
  return { started_at: at(0).toISOString(), finished_at: at(1).toISOString(), exit_code, signal: null, timed_out: false, stderr_tail: null, ...extra };
}

// ---

const create = suite('createJob');

create('starts pending with no attempts, due at run_at', () => {
  const created = createJob({ id: 'a', command: 'echo', cwd: '/w', max_retries: 2, priority: 5, run_at: at(60), timeout: null, no_retry_on: [] }, T0);
  assert.is(created.state, 'pending');
  assert.is(created.attempts, 0);
  assert.is(created.run_at, at(60).toISOString());
  assert.is(created.created_at, T0.toISOString());
  assert.not.ok(isDue(created, at(59)));
  assert.ok(isDue(created, at(60)));
});

create.run();

// ---

const backoff = suite('backoff');

backoff('is backoff_base ^ attempts seconds', () => {
  assert.is(backoffSeconds(2, 1), 2);
  assert.is(backoffSeconds(2, 2), 4);
  assert.is(backoffSeconds(2, 3), 8);
  assert.is(backoffSeconds(3, 2), 9);
});

backoff.run();

// ---

const finish = suite('finishJob');

finish('completes the job on exit code 0 and records the attempt', () => {
  const done = finishJob(claimJob(job(), owner, at(0)), run(0), 2, at(1));
  assert.is(done.state, 'completed');
  assert.is(done.attempts, 1);
  assert.is(done.owner, null);
  assert.is(done.history.length, 1);
  assert.is(done.history[0]?.outcome, 'completed');
  assert.is(done.history[0]?.duration_ms, 1000);
});

finish('schedules a retry after backoff_base ^ attempts seconds', () => {
  const first = finishJob(claimJob(job(), owner, at(0)), run(1), 2, at(1));
  assert.is(first.state, 'failed');
  assert.is(first.attempts, 1);
  assert.is(first.run_at, at(3).toISOString());
  assert.is(first.last_error, 'exit code 1');
  const second = finishJob(claimJob(first, owner, at(3)), run(1), 2, at(4));
  assert.is(second.state, 'failed');
  assert.is(second.run_at, at(8).toISOString());
  assert.is(second.history[1]?.retry_at, at(8).toISOString());
});

finish('moves the job to the DLQ once max_retries attempts have failed', () => {
  let current = job({ max_retries: 3 });
  for (let attempt = 1; attempt <= 3; attempt++) current = finishJob(claimJob(current, owner, at(0)), run(2), 2, at(1));
  assert.is(current.state, 'dead');
  assert.is(current.attempts, 3);
  assert.is(current.history.length, 3);
});

finish('runs a job with max_retries 0 exactly once', () => {
  const dead = finishJob(claimJob(job({ max_retries: 0 }), owner, at(0)), run(1), 2, at(1));
  assert.is(dead.state, 'dead');
  assert.is(dead.attempts, 1);
});

finish('names the exit code and the last line of stderr', () => {
  const failed = finishJob(job({ state: 'processing' }), run(127, { stderr_tail: 'sh: 1: nosuchcmd: not found' }), 2, at(1));
  assert.is(failed.last_error, 'exit code 127: sh: 1: nosuchcmd: not found');
});

finish('treats a signal and a timeout as failures', () => {
  assert.is(finishJob(job(), run(null, { signal: 'SIGKILL' }), 2, at(1)).last_error, 'killed by signal SIGKILL');
  const timed = finishJob(job({ timeout: '5m' }), run(null, { signal: 'SIGTERM', timed_out: true }), 2, at(1));
  assert.is(timed.last_error, 'timed out after 5m');
  assert.is(timed.history[0]?.outcome, 'timed-out');
});

finish('sends exit codes listed in no_retry_on straight to the DLQ', () => {
  const dead = finishJob(job({ no_retry_on: [2] }), run(2), 2, at(1));
  assert.is(dead.state, 'dead');
  assert.match(dead.last_error ?? '', /never retried/);
  assert.is(finishJob(job({ no_retry_on: [2] }), run(3), 2, at(1)).state, 'failed');
});

finish.run();

// ---

const recover = suite('recoverJob');

recover('puts an interrupted job back to pending without spending an attempt', () => {
  const running = claimJob(job({ attempts: 1 }), owner, at(0));
  const recovered = recoverJob(running, 'supervisor 100 died', at(5));
  assert.is(recovered.state, 'pending');
  assert.is(recovered.attempts, 1);
  assert.is(recovered.recoveries, 1);
  assert.is(recovered.owner, null);
  assert.is(recovered.history.at(-1)?.outcome, 'interrupted');
  assert.ok(isDue(recovered, at(5)));
});

recover(`makes a job dead after ${MAX_RECOVERIES} recoveries: a poison pill must not loop`, () => {
  let current = job();
  for (let i = 0; i < MAX_RECOVERIES; i++) current = recoverJob(claimJob(current, owner, at(i)), 'worker died', at(i + 1));
  assert.is(current.state, 'dead');
  assert.match(current.last_error ?? '', /interrupted 3 times/);
});

recover.run();

// ---

const retry = suite('retryJob');

retry('resets attempts and recoveries, keeps history', () => {
  const dead = job({ state: 'dead', attempts: 3, recoveries: 2, history: [run(1)].map(() => ({ started_at: T0.toISOString(), finished_at: T0.toISOString(), duration_ms: 0, outcome: 'failed' as const, exit_code: 1, signal: null, error: 'exit code 1', retry_at: null })) });
  const again = retryJob(dead, at(10));
  assert.is(again.state, 'pending');
  assert.is(again.attempts, 0);
  assert.is(again.recoveries, 0);
  assert.is(again.history.length, 1);
  assert.is(again.run_at, at(10).toISOString());
});

retry.run();

// ---

const pick = suite('pickDue');

pick('takes higher priority first, then creation order, only due jobs', () => {
  const jobs = [
    job({ id: 'a' }),
    job({ id: 'b', priority: 5 }),
    job({ id: 'c', run_at: at(100).toISOString(), priority: 9 }),
    job({ id: 'd', state: 'failed', run_at: at(1).toISOString() }),
    job({ id: 'e', state: 'completed' }),
  ];
  assert.equal(pickDue(jobs, at(10), 10).map((j) => j.id), ['b', 'a', 'd']);
  assert.equal(pickDue(jobs, at(10), 2).map((j) => j.id), ['b', 'a']);
  assert.equal(pickDue(jobs, at(10), 0), []);
  assert.equal(byPriority(jobs).map((j) => j.id), ['c', 'b', 'a', 'd', 'e']);
  assert.is(nextDueTime(jobs), T0.getTime());
});

pick('stops at the first job held elsewhere: nothing behind it is picked, what is ahead of it is', () => {
  const jobs = [job({ id: 'a' }), job({ id: 'held', state: 'processing' }), job({ id: 'b' }), job({ id: 'urgent', priority: 5 })];
  const held = (candidate: { id: string }) => candidate.id === 'held';
  assert.equal(pickDue(jobs, at(10), 10, held).map((j) => j.id), ['urgent', 'a']);
  assert.equal(pickDue(jobs, at(10), 1, held).map((j) => j.id), ['urgent']);
  assert.equal(pickDue(jobs, at(10), 10).map((j) => j.id), ['urgent', 'a', 'b']);
});

pick.run();

// ---

const metrics = suite('computeMetrics');

metrics('counts completed and failed attempts per window, with mean and p95 durations', () => {
  const attempt = (finishedSecondsAgo: number, outcome: 'completed' | 'failed', duration_ms: number) => ({
    started_at: at(3600 - finishedSecondsAgo).toISOString(),
    finished_at: at(3600 - finishedSecondsAgo).toISOString(),
    duration_ms,
    outcome,
    exit_code: outcome === 'completed' ? 0 : 1,
    signal: null,
    error: null,
    retry_at: null,
  });
  const jobs = [
    job({ id: 'a', history: [attempt(10, 'failed', 100), attempt(5, 'completed', 200)] }),
    job({ id: 'b', history: [attempt(120, 'completed', 300)] }),
    job({ id: 'c', history: [attempt(7200, 'completed', 9999)] }),
  ];
  const figures = computeMetrics(jobs, at(3600));
  assert.equal(figures.last_minute, { completed: 1, failed: 1 });
  assert.equal(figures.last_hour, { completed: 2, failed: 1 });
  assert.is(figures.mean_duration_ms, 200);
  assert.is(figures.p95_duration_ms, 300);
  assert.is(computeMetrics([], at(0)).mean_duration_ms, null);
});

metrics.run();
