/**
 * Leases end to end: the built CLI's supervisors on one host sharing a throwaway database, with a
 * 2s lease (QUEUECTL_LEASE), so that what a stopped supervisor's jobs do, what `worker stop`
 * reaches and what `status` shows are what the database says, not PID files or /proc.
 */
import fs from 'node:fs';
import os from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { groupAlive } from '../support/supervisor-proc.ts';
import { firstRunLasts, overlapsIn, readRuns, tracedCommand } from '../support/supervisor-runs.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

const LEASE = { QUEUECTL_LEASE: '2s' };
const LEASE_MS = 2_000;

const leases = suite('PostgreSQL leases, end to end');

/** A test in a sandbox of its own on a fresh database, whichever store the suite runs on; skipped without PostgreSQL. */
const pgScenario = (name: string, body: (s: Sandbox) => Promise<void>): void => scenario(leases, name, body, { on: 'postgres' });

/**
 * A traced run (start and end lines in `runs`) that also holds an exclusive flock on `lock` for
 * as long as it runs: a second run of the job while the first one is alive writes "overlap".
 */
function lockedCommand(id: string, runs: string, lock: string, seconds: number | string): string {
  return `exec 9>'${lock}'; flock -n 9 || { echo "overlap ${id} $$" >> '${runs}.overlap'; exit 3; }; ${tracedCommand(id, runs, seconds)}`;
}

pgScenario('a stopped supervisor: its worker kills the job before the lease runs out, another recovers and completes it, and the stopped one records nothing over it', async (s) => {
  const runs = s.path('runs.txt');
  const watch = s.watchRuns();
  const a = await s.start(1, LEASE);
  s.enqueue({ id: 'j', command: lockedCommand('j', runs, s.path('j.lock'), firstRunLasts(8, 0.5, s.path('ran-once'))) });
  await waitFor(() => readRuns(runs).get('j')?.length === 1, { what: 'the job to start on supervisor A' });
  assert.is(s.job('j').owner?.pid, a.pid);
  const b = await s.start(1, LEASE);
  const first = readRuns(runs).get('j')![0]!;

  // Only the supervisor: its worker, still running, has no renewal coming any more.
  process.kill(a.pid, 'SIGSTOP');
  const stoppedAt = Date.now();
  try {
    await waitFor(() => !groupAlive(first.group), { timeout: 10_000, interval: 10, what: "A's worker to kill the job" });
    const killedAfter = Date.now() - stoppedAt;
    assert.ok(killedAfter < LEASE_MS, `the run was killed ${killedAfter}ms after A stopped: before its ${LEASE_MS}ms lease could run out`);

    await s.waitJob('j', (job) => job.state === 'completed', 'to complete on supervisor B', 20_000);
    await b.waitLog(new RegExp(`job j recovered \\(the lease of supervisor ${a.pid} on \\S+ ran out\\)`));
    assert.is(readRuns(runs).get('j')?.at(-1)?.end !== null, true);
  } finally {
    process.kill(a.pid, 'SIGCONT');
  }
  // A learns its claim is gone once it runs again: the killed run's result is refused.
  await a.waitLog(/result for job j not recorded: it is now completed/);
  assert.ok(a.running, 'A goes on after it was stopped');

  const job = s.job('j');
  assert.is(job.state, 'completed');
  assert.is(job.owner, null);
  assert.equal(job.history.map((attempt) => attempt.outcome), ['interrupted', 'completed'], 'the killed run counts as interrupted, once; one run finished');
  assert.is(job.recoveries, 1);
  const record = readRuns(runs).get('j')!;
  watch.stop();
  assert.is(record.length, 2, 'two runs started');
  assert.is(record[0]!.end, null, "A's run never finished");
  assert.ok(record[1]!.end !== null, "B's run finished");
  assert.equal(overlapsIn(readRuns(runs)), [], 'the runs did not overlap');
  assert.equal(watch.overlaps, [], 'no two runs of the job were ever alive at once');
  assert.not.ok(fs.existsSync(`${runs}.overlap`), 'no run found the lock taken');
  assert.is(s.q('list', '--json').status, 0);
});

pgScenario('a supervisor stopped right after its first claim, before its first renewal: the job is killed all the same', async (s) => {
  const runs = s.path('runs.txt');
  const watch = s.watchRuns();
  // The job is there before the supervisor starts, so that its fresh worker gets it at once. A
  // 15s lease: the first renewal comes 3s after the start, the job starts well before it.
  const lease = { QUEUECTL_LEASE: '15s' };
  s.enqueue({ id: 'early', command: lockedCommand('early', runs, s.path('early.lock'), firstRunLasts(60, 0.5, s.path('ran-once'))) });
  const a = await s.start(1, lease);
  await waitFor(() => readRuns(runs).get('early')?.length === 1, { interval: 5, what: 'the job to start on supervisor A' });
  process.kill(a.pid, 'SIGSTOP');
  const stoppedAt = Date.now();
  const first = readRuns(runs).get('early')![0]!;
  try {
    assert.is(s.db!.sql(`SELECT heartbeat_at = started_at FROM queuectl_supervisors WHERE pid = ${a.pid}`).trim(), 't', 'A was stopped before its first renewal');
    await waitFor(() => !groupAlive(first.group), { timeout: 20_000, interval: 10, what: "A's worker to kill the job though it never had a renewal" });
    const killedAfter = Date.now() - stoppedAt;
    assert.ok(killedAfter < 15_000, `the run was killed ${killedAfter}ms after A stopped: before the 15s lease could run out`);
    const b = await s.start(1, lease);
    await s.waitJob('early', (job) => job.state === 'completed', 'to complete on supervisor B', 30_000);
    await b.waitLog(/job early recovered/);
  } finally {
    process.kill(a.pid, 'SIGCONT');
  }
  watch.stop();
  assert.equal(watch.overlaps, [], 'no two runs of the job were ever alive at once');
  assert.not.ok(fs.existsSync(`${runs}.overlap`), 'no run found the lock taken');
});

pgScenario('worker stop from another directory and store home stops every supervisor, through the database', async (s) => {
  const a = await s.start(1, LEASE);
  const b = await s.start(2, LEASE);
  s.enqueue({ id: 'drained', command: 'sleep 3' });
  const owner = (await s.waitJob('drained', (job) => job.state === 'processing' && job.owner?.worker !== 0, 'to start')).owner!.pid;

  const elsewhere = tempDir('queuectl-elsewhere-');
  try {
    const result = queuectl(['worker', 'stop'], { cwd: elsewhere.dir, env: { QUEUECTL_DATABASE_URL: s.db!.url, QUEUECTL_HOME: `${elsewhere.dir}/home` } });
    assert.is(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^stopped 2 supervisors \\(pid (${a.pid}|${b.pid})\\b.*\\b(${a.pid}|${b.pid})\\b`));
    assert.not.ok(fs.existsSync(`${elsewhere.dir}/home`), 'worker stop created no store home of its own');
  } finally {
    elsewhere.cleanup();
  }
  for (const supervisor of [a, b]) {
    const exit = await supervisor.waitExit();
    assert.equal(exit, { code: 0, signal: null }, `supervisor ${supervisor.pid}`);
    await supervisor.waitLog(/worker stop asked this supervisor to stop/);
  }
  await (owner === a.pid ? a : b).waitLog(/worker stop: draining, no new jobs will start; waiting for 1 running job/);
  assert.is(s.job('drained').state, 'completed', 'the running job was drained, not interrupted');
  assert.is(s.job('drained').recoveries, 0);
  assert.is(s.db!.sql('SELECT count(*) FROM queuectl_supervisors').trim(), '0', 'both left the database');
});

pgScenario('status lists each supervisor with its heartbeat; status --json has heartbeat_at', async (s) => {
  const supervisor = await s.start(2, LEASE);
  const text = s.ok('status');
  assert.match(text, new RegExp(`^supervisor ${supervisor.pid} on ${os.hostname()}, 2 workers, 0 busy, up .*, heartbeat (now|\\d+ms ago|[\\d.]+s ago)`, 'm'));

  const first = s.json<{ supervisors: { pid: number; heartbeat_at: string | null }[] }>('status', '--json').supervisors;
  assert.equal(first.map((entry) => entry.pid), [supervisor.pid]);
  const beat = Date.parse(first[0]!.heartbeat_at ?? '');
  assert.ok(Math.abs(Date.now() - beat) < LEASE_MS, `heartbeat_at ${first[0]!.heartbeat_at} is recent`);
  // Renewed every lease/5: a later status shows a later heartbeat.
  await waitFor(() => Date.parse(s.json<{ supervisors: { heartbeat_at: string }[] }>('status', '--json').supervisors[0]!.heartbeat_at) > beat, { what: 'the heartbeat to be renewed' });
});

leases.run();
