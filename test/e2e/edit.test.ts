import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { queuectlAsync } from '../support/cli.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';

const edit = suite('edit');

/**
 * Runs a command that must be refused with `status`; asserts the message and that the job named
 * (every job, for an unknown id) did not change. A running supervisor may change the others.
 */
function refused(s: Sandbox, args: string[], status: number, message: RegExp): void {
  const named = () => JSON.stringify(s.jobs().filter((job, _, all) => job.id === args[1] || !all.some((other) => other.id === args[1])));
  const before = named();
  const result = s.q(...args);
  assert.is(result.status, status, `${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  assert.is(result.stdout, '');
  assert.match(result.stderr, message);
  assert.is(named(), before, `${args.join(' ')} changed nothing`);
}

scenario(edit, 'changes a pending job\'s options in one step, keeping its id, runs and history; updated_at moves', async (s) => {
  s.ok('enqueue', '--id', 'dep', '--delay', '1h', '--', 'true');
  s.ok('enqueue', '--id', 'job1', '--delay', '1h', '--env', 'A=1', '--', 'echo old');
  const before = s.job('job1');
  const out = s.ok('edit', 'job1', '--command', 'echo new', '--priority', '7', '--queue', 'fast', '--after', 'dep', '--env', 'B=2', '--timeout', '30s', '--max-retries', '5', '--run-at', '2031-01-01T00:00:00Z');
  assert.is(out, 'edited job1: command, priority, run-at, queue, after, env, timeout, max-retries\n');
  const after = s.json<Job>('show', 'job1', '--json');
  assert.equal(
    [after.command, after.priority, after.queue, after.after, after.env, after.timeout, after.max_retries, after.run_at],
    ['echo new', 7, 'fast', ['dep'], { B: '2' }, '30s', 5, '2031-01-01T00:00:00.000Z'],
  );
  assert.equal([after.id, after.state, after.attempts, after.history, after.created_at], [before.id, 'pending', 0, [], before.created_at]);
  assert.ok(after.updated_at > before.updated_at, 'updated_at moves');
  s.ok('edit', 'job1', '--delay', '5m', '--timeout', 'off');
  const delayed = s.job('job1');
  assert.ok(Math.abs(Date.parse(delayed.run_at) - Date.now() - 300_000) < 30_000, `--delay is from now: ${delayed.run_at}`);
  assert.is(delayed.timeout, null);
});

scenario(edit, 'refuses bad values, unknown dependencies and cycles through existing jobs with exit 2; an unknown id with exit 3', async (s) => {
  s.ok('enqueue', '--id', 'a', '--delay', '1h', '--', 'true');
  s.ok('enqueue', '--id', 'b', '--after', 'a', '--delay', '1h', '--', 'true');
  s.ok('enqueue', '--id', 'c', '--after', 'b', '--delay', '1h', '--', 'true');
  refused(s, ['edit', 'a', '--after', 'c'], 2, /cycle: a → c → b → a/);
  refused(s, ['edit', 'a', '--after', 'a'], 2, /cannot wait for itself/);
  refused(s, ['edit', 'a', '--after', 'ghost'], 2, /there is no job "ghost"/);
  refused(s, ['edit', 'a', '--priority', 'high'], 2, /priority must be a whole number/);
  refused(s, ['edit', 'a', '--max-retries', '0'], 2, /at least one run/);
  refused(s, ['edit', 'a', '--delay', 'soon'], 2, /invalid duration "soon"/);
  refused(s, ['edit', 'a', '--run-at', '2030-02-30T00:00:00Z'], 2, /run_at must be an ISO 8601 time/);
  refused(s, ['edit', 'a', '--run-at', '2030-01-01T00:00:00Z', '--delay', '1m'], 2, /not both/);
  refused(s, ['edit', 'a', '--queue', 'no spaces'], 2, /queue/);
  refused(s, ['edit', 'a', '--env', 'QUEUECTL_X=1'], 2, /QUEUECTL_/);
  refused(s, ['edit', 'a', '--backoff-jitter', '3'], 2, /backoff_jitter/);
  refused(s, ['edit', 'a'], 2, /nothing to edit/);
  refused(s, ['edit', 'ghost', '--priority', '1'], 3, /no job with id "ghost"/);
  // The same bad value is refused for an unknown job too: values are checked first.
  refused(s, ['edit', 'ghost', '--priority', 'high'], 2, /priority must be a whole number/);
});

scenario(edit, 'refuses a running or finished job with exit 4, naming its state and what to do; a failed job waiting to retry can be edited', async (s) => {
  const gate = s.path('gate');
  s.ok('enqueue', '--id', 'slow', '--', `while [ ! -e '${gate}' ]; do sleep 0.05; done`);
  s.ok('enqueue', '--id', 'flaky', '--max-retries', '2', '--', 'exit 1');
  s.ok('config', 'set', 'backoff-base', '600');
  await s.start(2);
  await s.waitJob('slow', (job) => job.state === 'processing', 'to run');
  refused(s, ['edit', 'slow', '--priority', '1'], 4, /job "slow" is processing: only a pending job or a failed one waiting for its retry can be edited; it is running now; wait for it/);
  fs.writeFileSync(gate, '');
  await s.waitJob('slow', (job) => job.state === 'completed', 'to complete');
  refused(s, ['edit', 'slow', '--priority', '1'], 4, /job "slow" is completed: .*enqueue a new job, or restart it/);

  const failed = await s.waitJob('flaky', (job) => job.state === 'failed', 'to wait for its retry');
  refused(s, ['edit', 'flaky', '--max-retries', '1'], 2, /has had 1 run: .*at least 2/);
  s.ok('edit', 'flaky', '--command', 'true', '--run-at', new Date(Date.now() - 1000).toISOString());
  const done = await s.waitJob('flaky', (job) => job.state === 'completed', 'to run as edited');
  assert.equal(done.history.map((run) => run.outcome), ['failed', 'completed'], 'the failed run stays in its history');
  assert.equal(done.history[0], failed.history[0]);
});

scenario(edit, 'an edit racing a claim: either the job runs as edited, or the edit is refused with exit 4 and it runs as it was', async (s) => {
  const runs = s.path('runs');
  await s.start(2);
  const outcomes: { id: string; status: number | null; stderr: string }[] = [];
  for (let round = 0; round < 12; round++) {
    const id = `race${round}`;
    // Due soon, staggered, so that the edit lands before, during and after the claim.
    s.ok('enqueue', '--id', id, '--delay', `${20 + round * 40}ms`, '--', `echo old ${id} >> '${runs}'`);
    const result = await queuectlAsync(['edit', id, '--command', `echo new ${id} >> '${runs}'`], { cwd: s.dir, env: s.env });
    outcomes.push({ id, ...result });
  }
  await s.waitJobs((jobs) => jobs.every((job) => job.state === 'completed'), 'every job to complete', 20_000);
  const lines = fs.readFileSync(runs, 'utf8').trim().split('\n');
  for (const { id, status, stderr } of outcomes) {
    const ran = lines.filter((line) => line.endsWith(` ${id}`));
    assert.is(ran.length, 1, `${id} ran once: ${ran.join(', ')}`);
    const job = s.job(id);
    if (status === 0) {
      assert.is(ran[0], `new ${id}`, `${id}: the edit won, so it ran edited`);
      assert.match(job.command, /^echo new/);
    } else {
      assert.is(status, 4, `${id}: ${stderr}`);
      assert.match(stderr, new RegExp(`job "${id}" is (processing|completed)`));
      assert.is(ran[0], `old ${id}`, `${id}: the claim won, so it ran as it was`);
      assert.match(job.command, /^echo old/);
    }
  }
  process.stdout.write(`edit races: ${outcomes.filter((o) => o.status === 0).length} edits won, ${outcomes.filter((o) => o.status === 4).length} claims won\n`);
});

edit.run();
