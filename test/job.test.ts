import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createJob, MAX_RECOVERIES, STATES, type RunResult } from '../src/lifecycle/job.ts';
import { backoffSeconds, cancelJob, claimJob, finishJob, recoverJob, restartJob } from '../src/lifecycle/transition.ts';
import { byPriority, isDue, nextDueTime, pickDue } from '../src/lifecycle/start-order.ts';
import { computeMetrics } from '../src/cli/metrics.ts';
import { QueueError } from '../src/lifecycle/error.ts';
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

finish('makes a job dead at once when its working directory is gone: no backoff, the directory named', () => {
  const running = claimJob(job({ max_retries: 3, cwd: '/x' }), owner, at(0));
  const dead = finishJob(running, run(null, { error: 'working directory /x does not exist', permanent: true }), 2, at(1));
  assert.is(dead.state, 'dead');
  assert.is(dead.attempts, 1);
  assert.is(dead.run_at, running.run_at, 'no retry is scheduled');
  assert.is(dead.last_error, 'working directory /x does not exist (never retried)');
  assert.is(dead.history[0]?.error, 'working directory /x does not exist');
  assert.is(dead.history[0]?.retry_at, null);
});

finish('retries a run that could not start for a reason that may pass', () => {
  const failed = finishJob(claimJob(job(), owner, at(0)), run(null, { error: 'could not start /bin/sh: spawn EAGAIN' }), 2, at(1));
  assert.is(failed.state, 'failed');
  assert.is(failed.run_at, at(3).toISOString());
});

finish('runs a job with max_retries 0 (which validation refuses) exactly once', () => {
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

recover('puts a crashed job back to pending without spending an attempt, and counts the crash', () => {
  const running = claimJob(job({ attempts: 1 }), owner, at(0));
  const recovered = recoverJob(running, 'its worker killed by SIGKILL', at(5), 'crash');
  assert.is(recovered.state, 'pending');
  assert.is(recovered.attempts, 1);
  assert.is(recovered.recoveries, 1);
  assert.is(recovered.owner, null);
  assert.is(recovered.run_at, at(5).toISOString());
  assert.equal(recovered.history.at(-1), {
    started_at: at(0).toISOString(),
    finished_at: at(5).toISOString(),
    duration_ms: 5000,
    outcome: 'interrupted',
    exit_code: null,
    signal: null,
    error: 'its worker killed by SIGKILL',
    retry_at: null,
  });
  assert.ok(isDue(recovered, at(5)));
});

recover(`makes a job dead after ${MAX_RECOVERIES} crashes: a poison pill must not loop`, () => {
  let current = job();
  for (let i = 0; i < MAX_RECOVERIES; i++) current = recoverJob(claimJob(current, owner, at(i)), 'worker died', at(i + 1), 'crash');
  assert.is(current.state, 'dead');
  assert.is(current.recoveries, MAX_RECOVERIES);
  assert.is(current.last_error, `interrupted ${MAX_RECOVERIES} times by a crash, last: worker died`);
});

recover('a forced stop puts the job back without counting, and records it in history all the same', () => {
  const running = claimJob(job({ attempts: 1, recoveries: 2 }), owner, at(0));
  const stopped = recoverJob(running, 'forced stop', at(3), 'forced');
  assert.is(stopped.state, 'pending');
  assert.is(stopped.attempts, 1);
  assert.is(stopped.recoveries, 2);
  assert.is(stopped.last_error, 'forced stop');
  assert.is(stopped.history.length, 1);
  assert.is(stopped.history[0]?.outcome, 'interrupted');
  assert.is(stopped.history[0]?.error, 'forced stop');
  assert.is(stopped.history[0]?.duration_ms, 3000);
});

recover(`never makes a job dead however often it is force-stopped`, () => {
  let current = job();
  for (let i = 0; i < MAX_RECOVERIES * 3; i++) current = recoverJob(claimJob(current, owner, at(i)), 'forced stop', at(i + 1), 'forced');
  assert.is(current.state, 'pending');
  assert.is(current.recoveries, 0);
  assert.is(current.history.length, MAX_RECOVERIES * 3);
  current = recoverJob(claimJob(current, owner, at(100)), 'worker died', at(101), 'crash');
  assert.is(current.state, 'pending', 'one crash after many forced stops is one crash');
  assert.is(current.recoveries, 1);
});

recover.run();

// ---

const cancel = suite('cancelJob');

cancel('a running job keeps its cancelled run in history, without counting it as a crash', () => {
  const cancelled = cancelJob(claimJob(job({ attempts: 1 }), owner, at(0)), at(2));
  assert.is(cancelled.state, 'cancelled');
  assert.is(cancelled.owner, null);
  assert.is(cancelled.recoveries, 0);
  assert.is(cancelled.attempts, 1);
  assert.equal(cancelled.history.map((entry) => [entry.outcome, entry.error, entry.duration_ms]), [['interrupted', 'cancelled', 2000]]);
});

cancel('a waiting job is cancelled without a history entry: it never ran', () => {
  const cancelled = cancelJob(job({ state: 'failed', attempts: 1 }), at(2));
  assert.is(cancelled.state, 'cancelled');
  assert.is(cancelled.history.length, 0);
});

cancel.run();

// ---

const restart = suite('restartJob');

restart('puts a dead job back to pending, due now, with fresh runs; history and last error stay', () => {
  const failedRun = { started_at: T0.toISOString(), finished_at: T0.toISOString(), duration_ms: 0, outcome: 'failed' as const, exit_code: 1, signal: null, error: 'exit code 1', retry_at: null };
  const dead = job({ state: 'dead', attempts: 3, recoveries: 2, run_at: at(-60).toISOString(), started_at: at(-5).toISOString(), finished_at: at(-4).toISOString(), last_error: 'exit code 1', history: [failedRun] });
  const again = restartJob(dead, at(10));
  assert.is(again.state, 'pending');
  assert.is(again.attempts, 0);
  assert.is(again.recoveries, 0);
  assert.equal(again.history, [failedRun]);
  assert.is(again.last_error, 'exit code 1');
  assert.is(again.run_at, at(10).toISOString());
  assert.is(again.updated_at, at(10).toISOString());
  assert.is(again.started_at, null);
  assert.is(again.finished_at, null);
  assert.is(again.created_at, dead.created_at, 'it is the same job');
  assert.ok(isDue(again, at(10)));
});

restart('restarts completed and cancelled jobs the same way', () => {
  for (const state of ['completed', 'cancelled'] as const) {
    const again = restartJob(job({ state, attempts: 1, finished_at: T0.toISOString() }), at(10));
    assert.is(again.state, 'pending', state);
    assert.is(again.attempts, 0, state);
  }
});

restart('refuses a job that is not finished, naming its state', () => {
  for (const state of STATES.filter((s) => !['completed', 'dead', 'cancelled'].includes(s))) {
    try {
      restartJob(job({ id: 'busy', state }), at(10));
      assert.unreachable(`a ${state} job was restarted`);
    } catch (error) {
      assert.instance(error, QueueError);
      assert.is((error as QueueError).code, 'conflict');
      assert.match((error as Error).message, `job "busy" is ${state}`);
    }
  }
});

restart.run();

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
  assert.equal(pickDue(jobs, at(10), 10, { held }).map((j) => j.id), ['urgent', 'a']);
  assert.equal(pickDue(jobs, at(10), 1, { held }).map((j) => j.id), ['urgent']);
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
