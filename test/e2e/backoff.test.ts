import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { scenario } from '../support/supervisor-sandbox.ts';

const backoff = suite('worker start: backoff cap and jitter');

/** The gap a failed job waits: from the moment its failure was recorded to its next run. */
const gapMs = (job: Job) => Date.parse(job.run_at) - Date.parse(job.updated_at);

scenario(backoff, 'backoff-max cuts every retry gap to the cap, with backoff-base 100 that would wait 100 s', async (s) => {
  s.ok('config', 'set', 'backoff-base', '100');
  s.ok('config', 'set', 'backoff-max', '1s');
  s.ok('enqueue', '--id', 'capped', '--max-retries', '3', '--', 'exit 3');
  await s.start(1);
  const failed = await s.waitJob('capped', (job) => job.state === 'failed', 'to wait for its retry');
  assert.ok(gapMs(failed) <= 1000 && gapMs(failed) >= 990, `the gap is the cap, got ${gapMs(failed)} ms`);
  // Three runs within seconds: each gap was the cap, not 100 s or 10 000 s.
  const dead = await s.waitJob('capped', (job) => job.state === 'dead', 'to run out of runs', 10_000);
  const listed = s.json<Job[]>('list', '--json').find((job) => job.id === 'capped')!;
  assert.equal(listed.history.map((run) => run.exit_code), [3, 3, 3]);
  for (const [index, run] of dead.history.slice(0, 2).entries()) {
    const gap = Date.parse(run.retry_at!) - Date.parse(run.finished_at);
    assert.ok(gap <= 1000 + 500, `run ${index + 1}: retry ${gap} ms after it finished, at most the cap (1 s) plus recording time`);
  }
});

scenario(backoff, 'a job\'s own --backoff-max and --backoff-jitter win over the settings, shown by show and list --json', async (s) => {
  s.ok('config', 'set', 'backoff-base', '100');
  s.ok('enqueue', '--id', 'own', '--max-retries', '2', '--backoff-max', '4s', '--backoff-jitter', '0.5', '--', 'exit 1');
  const listed = s.json<Job[]>('list', '--json')[0]!;
  assert.equal([listed.backoff_max, listed.backoff_jitter], ['4s', 0.5]);
  assert.match(s.ok('show', 'own'), /backoff: +at most 4s, jitter 0\.5/);
  await s.start(1);
  const failed = await s.waitJob('own', (job) => job.state === 'failed', 'to wait for its retry');
  assert.ok(gapMs(failed) <= 4000 && gapMs(failed) >= 2000, `the gap is within [cap × (1 − jitter), cap] = [2 s, 4 s], got ${gapMs(failed)} ms`);
});

scenario(backoff, 'bad backoff values are refused with exit 2 and change nothing', async (s) => {
  s.ok('enqueue', '--id', 'first', '--', 'true');
  const before = JSON.stringify(s.jobs());
  for (const args of [
    ['enqueue', '--backoff-jitter', '1.5', '--', 'true'],
    ['enqueue', '--backoff-max', 'soon', '--', 'true'],
    ['enqueue', JSON.stringify({ command: 'true', backoff_jitter: -1 })],
    ['config', 'set', 'backoff-jitter', '2'],
    ['config', 'set', 'backoff_max', '10'],
  ]) {
    const result = s.q(...args);
    assert.is(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /backoff/);
  }
  assert.is(JSON.stringify(s.jobs()), before);
  assert.is(s.ok('config', 'get', 'backoff-max'), 'off\n');
  assert.is(s.ok('config', 'get', 'backoff_jitter'), '0\n');
});

backoff.run();
