import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, backoffPolicy, retryGapMs } from '../src/lifecycle/backoff.ts';
import { DEFAULT_CONFIG, parseSetting } from '../src/lifecycle/config.ts';
import type { RunResult } from '../src/lifecycle/job.ts';
import { finishJob } from '../src/lifecycle/transition.ts';
import { jobFromSpec } from '../src/lifecycle/spec.ts';
import { QueueError } from '../src/lifecycle/error.ts';
import { at, job, T0 } from './support/factory.ts';

const fixed = (value: number) => () => value;
const failed: RunResult = { started_at: at(0).toISOString(), finished_at: at(1).toISOString(), exit_code: 1, signal: null, timed_out: false, stderr_tail: null };

// ---

const delay = suite('backoffDelay');

delay('without a cap or jitter is backoff_base ^ attempts, as before', () => {
  const none = { max: null, jitter: 0 };
  assert.equal([1, 2, 3, 10].map((n) => backoffDelay(2, n, none, fixed(0.9))), [2, 4, 8, 1024]);
});

delay('cuts the gap to the cap and never goes above it', () => {
  assert.equal([1, 2, 3, 4, 20].map((n) => backoffDelay(2, n, { max: 5, jitter: 0 }, fixed(0))), [2, 4, 5, 5, 5]);
});

delay('jitter shortens the gap by up to its fraction: gap × (1 − jitter × U)', () => {
  assert.is(backoffDelay(2, 3, { max: null, jitter: 0.5 }, fixed(0)), 8);
  assert.is(backoffDelay(2, 3, { max: null, jitter: 0.5 }, fixed(0.5)), 6);
  assert.is(backoffDelay(2, 3, { max: null, jitter: 1 }, fixed(0.25)), 6);
  assert.is(backoffDelay(2, 10, { max: 60, jitter: 0.5 }, fixed(0.999)), 60 * (1 - 0.5 * 0.999));
});

delay('stays within [cap × (1 − jitter), cap] whatever the random source says', () => {
  for (const draw of [-1, 0, 0.3, 0.99999, 1, 7]) {
    const gap = backoffDelay(3, 8, { max: 30, jitter: 0.4 }, fixed(draw));
    assert.ok(gap <= 30 && gap >= 30 * 0.6, `${draw}: ${gap}`);
  }
});

delay.run();

// ---

const perJob = suite('retry gap of a job');

const policy = { ...backoffPolicy({ ...DEFAULT_CONFIG, backoff_max: '1m', backoff_jitter: 0.5 }, fixed(0.5)) };

perJob('follows the settings when the job has none of its own', () => {
  assert.is(retryGapMs({ backoff_max: null, backoff_jitter: null }, 10, policy), 45_000);
});

perJob('the job\'s own cap and jitter win over the settings', () => {
  assert.is(retryGapMs({ backoff_max: '10s', backoff_jitter: null }, 10, policy), 7_500);
  assert.is(retryGapMs({ backoff_max: '10s', backoff_jitter: 0 }, 10, policy), 10_000);
  assert.is(retryGapMs({ backoff_max: null, backoff_jitter: 1 }, 10, policy), 30_000);
});

perJob('finishJob puts the retry at now + the capped gap, in run_at and the history', () => {
  const failedJob = finishJob(job({ state: 'processing', attempts: 5, max_retries: 9, backoff_max: '20s' }), failed, { ...policy, jitter: 0 }, at(1));
  assert.is(failedJob.state, 'failed');
  assert.is(failedJob.run_at, at(21).toISOString());
  assert.is(failedJob.history[0]?.retry_at, at(21).toISOString());
});

perJob('a bare backoff base still gives today\'s exact gaps', () => {
  const failedJob = finishJob(job({ state: 'processing', attempts: 2, max_retries: 9 }), failed, 2, at(1));
  assert.is(failedJob.run_at, at(9).toISOString());
});

perJob.run();

// ---

const settings = suite('backoff settings and spec fields');

settings('default to no cap and no jitter', () => {
  assert.is(DEFAULT_CONFIG.backoff_max, 'off');
  assert.is(DEFAULT_CONFIG.backoff_jitter, 0);
});

settings('refuse a jitter outside 0..1 and a cap that is not a duration', () => {
  for (const raw of ['-0.1', '1.5', 'lots', '']) assert.throws(() => parseSetting('backoff_jitter', raw, 'test'), (error: unknown) => error instanceof QueueError);
  for (const raw of ['10', 'soon', '-5s']) assert.throws(() => parseSetting('backoff_max', raw, 'test'), (error: unknown) => error instanceof QueueError);
  assert.is(parseSetting('backoff_max', '10m', 'test'), '10m');
  assert.is(parseSetting('backoff_jitter', '0.25', 'test'), 0.25);
});

settings('a spec carries its own cap and jitter onto the job, and refuses bad ones', () => {
  const ctx = { config: DEFAULT_CONFIG, cwd: '/w', now: T0 };
  const made = jobFromSpec({ command: 'true', backoff_max: '30s', backoff_jitter: '0.2' }, ctx);
  assert.equal([made.backoff_max, made.backoff_jitter], ['30s', 0.2]);
  const plain = jobFromSpec({ command: 'true' }, ctx);
  assert.equal([plain.backoff_max, plain.backoff_jitter], [null, null]);
  assert.throws(() => jobFromSpec({ command: 'true', backoff_jitter: 2 }, ctx), /backoff_jitter must be a number from 0 to 1/);
  assert.throws(() => jobFromSpec({ command: 'true', backoff_max: 'forever' }, ctx), /backoff_max/);
});

settings.run();
