import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const retry = suite('worker start: retries and the DLQ');

function startTimes(file: string): number[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}

scenario(retry, 'retries a failing job after backoff_base ^ attempts seconds (2 s, 4 s), then moves it to the DLQ; dlq retry runs it again', async (s) => {
  s.ok('config', 'set', 'backoff-base', '2');
  const times = s.path('times');
  s.ok('enqueue', JSON.stringify({ id: 'flaky', command: `date +%s.%N >> '${times}'; exit 3`, max_retries: 3 }));
  const supervisor = await s.start(1);

  await s.waitJob('flaky', (job) => job.state === 'dead', 'to land in the DLQ', 15_000);
  const starts = startTimes(times);
  assert.is(starts.length, 3, `three attempts ran, got start times ${starts.join(', ')}`);
  const [first, second, third] = starts as [number, number, number];
  // Attempt 1 fails with attempts = 1: retry after 2^1 s; attempt 2 fails with attempts = 2: retry after 2^2 s.
  const gaps = [second - first, third - second];
  assert.ok(Math.abs(gaps[0]! - 2) <= 0.5, `first retry about 2 s after the first attempt, got ${gaps[0]!.toFixed(3)} s`);
  assert.ok(Math.abs(gaps[1]! - 4) <= 0.5, `second retry about 4 s after the second attempt, got ${gaps[1]!.toFixed(3)} s`);

  const dlq = s.json<Job[]>('dlq', 'list', '--json');
  assert.is(dlq.length, 1);
  assert.is(dlq[0]?.id, 'flaky');
  assert.is(dlq[0]?.state, 'dead');
  assert.is(dlq[0]?.attempts, 3);
  assert.is(dlq[0]?.last_error, 'exit code 3');
  assert.equal(dlq[0]?.history.map((attempt) => attempt.exit_code), [3, 3, 3]);
  // A supervisor logs an event just after it commits it.
  await supervisor.waitLog(/job flaky is dead after 3 runs: exit code 3/);
  assert.match(supervisor.log, /job flaky failed .*\(run 1\/3\): exit code 3/);
  assert.match(supervisor.log, /job flaky failed .*\(run 2\/3\): exit code 3/);

  assert.match(s.ok('dlq', 'retry', 'flaky'), /retrying flaky/);
  await waitFor(() => startTimes(times).length === 4, { timeout: 5_000, what: 'the retried job to run again' });
  const again = await s.waitJob('flaky', (job) => job.history.length === 4 && job.state !== 'processing', 'to record its fourth run');
  assert.is(again.attempts, 1, 'dlq retry reset attempts to 0, then one attempt ran');
  assert.is(again.state, 'failed');
  assert.is(s.json<Job[]>('dlq', 'list', '--json').length, 0);
});

retry.run();
