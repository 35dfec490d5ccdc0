import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { readHistory, tracedJob } from '../soak/history.ts';
import { isAlive } from '../support/supervisor-proc.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

/** Traced jobs (see test/soak/history.ts): their runs are recorded, and a second run alive at once is caught by flock. */
function traced(s: Sandbox, id: string, seconds: number): { id: string; command: string } {
  return { id, command: tracedJob(id, { history: s.path('history.log'), locks: s.dir }, 'true', seconds) };
}

function assertNoOverlap(s: Sandbox): void {
  const history = readHistory(s.path('history.log'));
  assert.equal(history.overlaps, [], 'a run found another run of its job still alive');
  for (const [id, runs] of history.runs) {
    for (let i = 1; i < runs.length; i++) {
      const before = runs[i - 1]!;
      assert.ok(before.end === null || before.end <= runs[i]!.start, `job ${id}: run ${runs[i]!.run} started before run ${before.run} ended`);
    }
  }
}

const runsOf = (s: Sandbox, id: string) => readHistory(s.path('history.log')).runs.get(id) ?? [];
const leftovers = (s: Sandbox) => fs.readdirSync(s.home).filter((name) => name.includes('.next'));

/** A killed holder's lock goes stale in 5 s; the lock tests prove that, here it is stale at once. */
function expireLock(s: Sandbox): void {
  const lock = s.path('.queuectl', 'lock');
  if (!fs.existsSync(lock)) return;
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(lock, past, past);
}

// ---

const commit = suite('supervisor killed at each point of its claim commit');

const POINTS = [
  ['before-commit', 'old'],
  ['before-rename', 'old'],
  ['after-rename', 'new'],
  ['after-commit', 'new'],
  ['after-turn-commit', 'new'],
] as const;

for (const [point, expected] of POINTS) {
  scenario(commit, `at ${point}: jobs.json is whole and holds the ${expected} state; after a restart each job runs exactly once and leftovers are swept`, async (s) => {
    const ids = ['a', 'b', 'c'];
    s.enqueue(...ids.map((id) => traced(s, id, 0.2)));
    const before = fs.readFileSync(s.path('.queuectl', 'jobs.json'), 'utf8');
    const old = new Map(s.jobs().map((job) => [job.id, job]));

    const crashing = await s.start(2, { QUEUECTL_FAILPOINTS: `${point}=kill` });
    const exit = await crashing.waitExit();
    assert.is(exit.signal, 'SIGKILL', 'the failpoint killed the supervisor');
    await waitFor(() => crashing.workers().length === 0, { what: 'its workers to exit' });

    const text = fs.readFileSync(s.path('.queuectl', 'jobs.json'), 'utf8');
    const after = (JSON.parse(text) as { jobs: Job[] }).jobs;
    if (expected === 'old') {
      assert.is(text, before, 'jobs.json is byte-identical to the state before the commit');
    } else {
      const claimed = after.filter((job) => job.state === 'processing');
      assert.ok(claimed.length >= 1, 'the claim was committed');
      for (const job of claimed) assert.is(job.owner?.pid, crashing.pid, `${job.id} is owned by the killed supervisor`);
      for (const job of after.filter((one) => one.state !== 'processing')) assert.equal(job, old.get(job.id), `${job.id} is unchanged`);
    }
    assert.is(readHistory(s.path('history.log')).runs.size, 0, 'nothing ran: the supervisor died before it dispatched');
    const claimedIds = after.filter((job) => job.state === 'processing').map((job) => job.id);

    expireLock(s);
    const second = await s.start(2);
    const jobs = await s.waitJobs((all) => all.every((job) => job.state === 'completed'), 'every job to complete after the restart');
    for (const job of jobs) {
      assert.is(job.attempts, 1, `${job.id} attempts`);
      // The dead supervisor's claims never started: they are handed back, not counted as crashes.
      assert.is(job.recoveries, 0, `${job.id}: a claim that never started counts no crash`);
      assert.equal(job.history.map((entry) => entry.outcome), ['completed'], `${job.id}: no interrupted run in its history`);
      assert.is(runsOf(s, job.id).length, 1, `${job.id} ran exactly once`);
    }
    for (const id of claimedIds) assert.match(second.log, `job ${id}: supervisor ${crashing.pid} is gone before its run started; back to pending`);
    assertNoOverlap(s);
    assert.equal(leftovers(s), [], 'the staging file of the killed commit is swept');
    assert.ok(second.running);
  });
}

commit.run();

// ---

const worker = suite('worker killed around the spawn of its job');

scenario(worker, 'killed on receiving the job, every time: the job never starts, goes dead after 3 recoveries, and runs once after dlq retry', async (s) => {
  s.enqueue(traced(s, 'j', 0.2));
  const supervisor = await s.start(1, { QUEUECTL_FAILPOINTS: 'worker-before-spawn=kill' });
  const dead = await s.waitJob('j', (job) => job.state === 'dead', 'to go dead', 20_000);
  assert.is(dead.recoveries, 3);
  assert.is(dead.attempts, 0, 'a worker that died is not a failed attempt');
  assert.equal(dead.history.map((entry) => entry.outcome), ['interrupted', 'interrupted', 'interrupted']);
  assert.is(runsOf(s, 'j').length, 0, 'the job never started');
  await supervisor.waitLog(/job j is dead/);
  assert.is((supervisor.log.match(/worker 1 killed by SIGKILL while running job j/g) ?? []).length, 3);
  assert.ok(supervisor.running, 'the supervisor survives its workers');

  // To the supervisor alone, as `worker stop` does: its last replacement worker may still be starting.
  process.kill(supervisor.pid, 'SIGTERM');
  assert.is((await supervisor.waitExit()).code, 0);
  assert.not.ok(s.jobs().some((job) => job.state === 'processing'), 'nothing is left processing');
  s.ok('dlq', 'retry', 'j');
  await s.start(1);
  const done = await s.waitJob('j', (job) => job.state === 'completed', 'to complete after dlq retry');
  assert.is(done.attempts, 1);
  assert.is(runsOf(s, 'j').length, 1);
});

scenario(worker, 'killed just after spawning the job, every time: each run is killed before the next starts, and the job goes dead after 3 recoveries', async (s) => {
  s.enqueue(traced(s, 'j', 5));
  const supervisor = await s.start(1, { QUEUECTL_FAILPOINTS: 'worker-after-spawn=kill' });
  const dead = await s.waitJob('j', (job) => job.state === 'dead', 'to go dead', 30_000);
  assert.is(dead.recoveries, 3);
  assert.is(dead.attempts, 0);
  assert.equal(dead.history.map((entry) => entry.outcome), ['interrupted', 'interrupted', 'interrupted']);
  const runs = runsOf(s, 'j');
  assert.ok(runs.length <= 3, `${runs.length} runs for 3 claims`);
  assert.ok(runs.every((run) => run.end === null), 'every run was killed, none ran its 5 s to the end');
  assertNoOverlap(s);
  // A run's id starts with the pid of its shell.
  for (const run of runs) assert.not.ok(isAlive(Number(run.run.split('.')[0])), `the shell of run ${run.run} is gone`);
  assert.ok(supervisor.running);
});

worker.run();
