import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { groupAlive, isAlive } from '../support/supervisor-proc.ts';
import type { Sandbox } from '../support/supervisor-sandbox.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** The pids a job wrote to `name`, one a line, once there are `count` of them. */
async function pidsIn(s: Sandbox, name: string, count: number): Promise<number[]> {
  return waitFor(
    () => {
      const file = s.path(name);
      const pids = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
      return pids.length >= count ? pids : null;
    },
    { what: `${count} pid(s) in ${name}` },
  );
}

const seconds = (attempt: { duration_ms: number } | undefined) => (attempt?.duration_ms ?? NaN) / 1000;

// ---

const timeout = suite('enqueue --timeout');

scenario(timeout, 'kills the whole process group, grandchild included, when the time is up; the job ends dead with "timed out after 1s"', async (s) => {
  s.ok('config', 'set', 'max-retries', '1');
  // The job's sh leads its group; a nested sh holds the grandchild `sleep`.
  const command = `echo $$ > '${s.path('pids')}'; sh -c 'sleep 30 & echo $! >> "${s.path('pids')}"; wait'`;
  s.ok('enqueue', '--id', 'slow', '--timeout', '1s', '--', command);
  await s.start(1);
  const [group, grandchild] = (await pidsIn(s, 'pids', 2)) as [number, number];
  assert.ok(isAlive(grandchild), 'the grandchild sleep runs');

  const job = await s.waitJob('slow', (j) => j.state === 'dead', 'to time out and be dead', 5_000);
  assert.is(job.last_error, 'timed out after 1s');
  assert.is(job.attempts, 1);
  assert.is(job.timeout, '1s');
  assert.is(job.history.length, 1);
  assert.is(job.history[0]?.outcome, 'timed-out');
  // SIGTERM ends it: well before the default 10 s kill grace.
  assert.ok(seconds(job.history[0]) >= 1 && seconds(job.history[0]) < 2.5, `the run took about 1 s, got ${seconds(job.history[0])} s`);
  await waitFor(() => !groupAlive(group) && !isAlive(grandchild), { timeout: 2_000, what: `process group ${group} and grandchild ${grandchild} to be gone` });
});

scenario(timeout, 'config set job-timeout 1s applies to jobs enqueued afterwards, not to jobs enqueued before', async (s) => {
  s.ok('config', 'set', 'max-retries', '1');
  s.ok('enqueue', '--id', 'before', '--', 'sleep 1.5');
  s.ok('config', 'set', 'job-timeout', '1s');
  s.ok('enqueue', '--id', 'after', '--', 'sleep 1.5');
  assert.is(s.job('before').timeout, null);
  assert.is(s.job('after').timeout, '1s');

  await s.start(2);
  const jobs = await s.waitJobs((all) => all.every((j) => j.state === 'completed' || j.state === 'dead'), 'both jobs to finish', 6_000);
  const before = jobs.find((j) => j.id === 'before');
  const after = jobs.find((j) => j.id === 'after');
  assert.is(before?.state, 'completed', 'the job enqueued before the setting ran its full 1.5 s');
  assert.is(after?.state, 'dead');
  assert.is(after?.last_error, 'timed out after 1s');
  assert.is(after?.history[0]?.outcome, 'timed-out');
});

scenario(timeout, 'a job that ignores SIGTERM gets SIGKILL once kill-grace has passed after the timeout', async (s) => {
  s.ok('config', 'set', 'kill-grace', '1s');
  // An ignored signal stays ignored across exec: the sleep ignores SIGTERM too.
  const command = `trap '' TERM; echo $$ > '${s.path('pids')}'; sleep 30 & echo $! >> '${s.path('pids')}'; wait`;
  s.ok('enqueue', '--id', 'stubborn', '--timeout', '1s', '--max-retries', '1', '--', command);
  await s.start(1);
  const [group, child] = (await pidsIn(s, 'pids', 2)) as [number, number];

  const job = await s.waitJob('stubborn', (j) => j.state === 'dead', 'to be killed and dead', 6_000);
  assert.is(job.last_error, 'timed out after 1s');
  assert.is(job.history[0]?.outcome, 'timed-out');
  assert.is(job.history[0]?.signal, 'SIGKILL');
  // 1 s timeout + 1 s grace: SIGTERM alone did not end it.
  assert.ok(seconds(job.history[0]) >= 2 && seconds(job.history[0]) < 3.5, `the run took timeout + kill-grace, about 2 s, got ${seconds(job.history[0])} s`);
  await waitFor(() => !groupAlive(group) && !isAlive(child), { timeout: 2_000, what: `process group ${group} to be gone` });
});

scenario(timeout, 'a grandchild that ignores SIGTERM is SIGKILLed after kill-grace, even though the job\'s shell exits at SIGTERM', async (s) => {
  s.ok('config', 'set', 'kill-grace', '1s');
  // The shell dies at SIGTERM; the sleep in its group ignores it and must get SIGKILL 1 s later.
  const command = `echo $$ > '${s.path('pids')}'; (trap '' TERM; exec sleep 30) & echo $! >> '${s.path('pids')}'; wait`;
  s.ok('enqueue', '--id', 'leaky', '--timeout', '1s', '--max-retries', '1', '--', command);
  await s.start(1);
  const [group, stubborn] = (await pidsIn(s, 'pids', 2)) as [number, number];

  const job = await s.waitJob('leaky', (j) => j.state === 'dead', 'to time out and be dead', 5_000);
  assert.is(job.last_error, 'timed out after 1s');
  const deadline = Date.parse(job.history[0]!.started_at) + 1_000 + 1_000;
  await waitFor(() => !isAlive(stubborn), {
    timeout: Math.max(0, deadline - Date.now()) + 1_500,
    what: `the TERM-ignoring sleep (pid ${stubborn}, group ${group}) to be SIGKILLed once the 1 s timeout and 1 s kill-grace are over`,
  });
  assert.not.ok(groupAlive(group));
});

timeout.run();
