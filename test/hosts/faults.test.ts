/**
 * Faults across hosts, as Jepsen would inject them: supervisors on two simulated hosts share one
 * queue in PostgreSQL; a supervisor dies, freezes or loses its network, or the server restarts.
 * Each scenario asserts what the jobs' final state says (`list --json` against the database) and
 * what their traced runs recorded: which host ran them, and, by flock, that no two runs of a job
 * were ever alive at once.
 */
import * as assert from 'uvu/assert';
import { findings, hostCluster, type HostCluster } from '../support/host-cluster.ts';
import { hostsSuite, type HostsContext } from '../support/hosts.ts';
import { waitFor } from '../support/wait.ts';
import { isAlive, type SupervisorProcess } from '../support/supervisor-proc.ts';

/** The store's promise: from the SIGKILL of a supervisor to the re-run on another host. */
const RECOVERY_MS = 15_000;

/** A job that runs for a minute on host-a and a second anywhere else: host-a's run is the one a fault cuts short. */
const LONG_ON_A = 'case $(hostname) in host-a) sleep 60;; *) sleep 1;; esac';

/** Waits until job `id` has a run on `host` that started; its start time (seconds). */
async function runStarted(queue: HostCluster, id: string, host: string, timeout = 20_000): Promise<number> {
  const run = await waitFor(() => queue.runs(id).find((one) => one.host === host), { timeout, what: `job ${id} to start on ${host}` });
  return run.start;
}

async function completed(queue: HostCluster, id: string, timeout: number): Promise<void> {
  await waitFor(() => queue.job(id)?.state === 'completed', { timeout, what: `job ${id} to complete; runs: ${JSON.stringify(queue.runs(id))}` });
}

/** Stops every supervisor gracefully from host-b, so that whatever they still hold is recorded or refused. */
async function stopAll(queue: HostCluster, supervisors: SupervisorProcess[]): Promise<void> {
  const stop = queue.cliOn(queue.b, ['worker', 'stop', '--timeout', '30s'], 60_000);
  assert.is(stop.status, 0, `worker stop: ${stop.stderr}`);
  for (const one of supervisors) await one.waitExit(10_000);
}

/** One job, run once to completion on host-b after host-a's run was cut short: what every scenario below must end with. */
function assertRecoveredOnB(queue: HostCluster, id: string): void {
  const report = queue.report();
  assert.is(findings(report), '', 'no job lost, stuck, run twice at once or run more often than recorded');
  const job = queue.job(id)!;
  assert.is(job.state, 'completed');
  assert.is(job.history.filter((entry) => entry.outcome === 'completed').length, 1, `completed once: ${JSON.stringify(job.history)}`);
  assert.is(job.history.at(-1)?.outcome, 'completed', 'nothing recorded after the completion');
  assert.ok(job.recoveries >= 1, 'counted as recovered');
  const runs = queue.runs(id);
  assert.equal(runs.map((run) => run.host), ['host-a', 'host-b'], 'one run on host-a, then one on host-b');
  assert.is(runs[0]!.end, null, "host-a's run was killed, not run to its end");
  assert.is(runs[1]!.code, 0);
}

/** A cluster for one scenario, closed whatever happens. */
async function inCluster(context: HostsContext, body: (queue: HostCluster) => Promise<void>): Promise<void> {
  const queue = await hostCluster(context);
  try {
    await body(queue);
  } finally {
    queue.close();
  }
}

/** Job `long` running on host-a's supervisor, and host-b's supervisor started beside it. */
async function longRunOnA(queue: HostCluster): Promise<{ a: SupervisorProcess; b: SupervisorProcess }> {
  const a = queue.start(queue.a, 1);
  queue.enqueue([{ id: 'long', command: queue.command('long', LONG_ON_A) }]);
  await runStarted(queue, 'long', 'host-a');
  return { a, b: queue.start(queue.b, 1) };
}

/**
 * With host-a out of the queue (stopped, cut off), job `long` runs again on host-b and completes;
 * then `heal` brings host-a back (whatever happened), and host-a is back in the queue (its lease
 * renewed), then both are stopped gracefully: host-a records (or tries to) whatever it still holds.
 */
async function recoveredOnBThenHealed(queue: HostCluster, { a, b }: { a: SupervisorProcess; b: SupervisorProcess }, heal: () => void): Promise<void> {
  try {
    await runStarted(queue, 'long', 'host-b', RECOVERY_MS + 15_000);
    await completed(queue, 'long', 10_000);
  } finally {
    heal();
  }
  await queue.renewedAfter(queue.a, Date.now());
  await stopAll(queue, [a, b]);
  assertRecoveredOnB(queue, 'long');
}

// ---

const killed = hostsSuite('a supervisor killed with SIGKILL mid-job');

killed('has its job re-run on the other host within 15 s, once, never beside its old run', (context) =>
  inCluster(context, async (queue) => {
    const { a, b } = await longRunOnA(queue);
    a.child.kill('SIGKILL');
    const killedAt = Date.now() / 1000;
    const rerun = await runStarted(queue, 'long', 'host-b', RECOVERY_MS + 10_000);
    assert.ok(rerun - killedAt <= RECOVERY_MS / 1000, `re-run on host-b ${(rerun - killedAt).toFixed(1)} s after the SIGKILL`);
    await completed(queue, 'long', 10_000);
    await stopAll(queue, [b]);
    assertRecoveredOnB(queue, 'long');
  }),
);

killed.run();

// ---

const frozen = hostsSuite('a supervisor stopped (SIGSTOP) past its lease');

frozen('has its job re-run on the other host, its old run killed first, and its late result refused', (context) =>
  inCluster(context, async (queue) => {
    const both = await longRunOnA(queue);
    // The primary only: its workers and the job go on, and it is up to them to notice.
    both.a.child.kill('SIGSTOP');
    await recoveredOnBThenHealed(queue, both, () => both.a.child.kill('SIGCONT'));
  }),
);

frozen.run();

// ---

const partitioned = hostsSuite('a host cut off from the network mid-job');

partitioned('has its job re-run on the other host, its old run killed first, and records nothing over it once back', (context) =>
  inCluster(context, async (queue) => {
    const both = await longRunOnA(queue);
    queue.hosts.cut(queue.a);
    await recoveredOnBThenHealed(queue, both, () => queue.hosts.restore(queue.a));
  }),
);

partitioned.run();

// ---

const restarted = hostsSuite('PostgreSQL restarted under load');

restarted('loses no job and runs none twice at once (2 hosts x 2 workers, 40 short jobs)', async (context) => {
  const queue = await hostCluster(context);
  try {
    const ids = Array.from({ length: 40 }, (_, i) => `short-${String(i + 1).padStart(2, '0')}`);
    queue.enqueue(ids.map((id, i) => ({ id, command: queue.command(id, 'true', 0.2 + (i % 4) * 0.1) })));
    const supervisors = [queue.start(queue.a, 2), queue.start(queue.b, 2)];
    const ended = () => ids.filter((id) => queue.runs(id).some((run) => run.end !== null)).length;
    await waitFor(() => ended() >= 8, { timeout: 30_000, what: 'eight jobs to run' });
    await context.server.restart('fast');
    const left = () => queue.jobs().filter((job) => job.state !== 'completed');
    try {
      await waitFor(() => left().length === 0, { timeout: 60_000, what: 'every job to complete' });
    } catch (error) {
      const states = left().map((job) => `${job.id} ${job.state} (owner ${JSON.stringify(job.owner)}, last error ${job.last_error})`);
      const logs = supervisors.map((one) => `--- supervisor ${one.pid} (${one.running ? 'running' : `exited ${JSON.stringify(one.exit)}`}):\n${one.log}`);
      throw new Error(`${(error as Error).message}\nnot completed:\n${states.join('\n')}\n${logs.join('\n')}`);
    }
    await stopAll(queue, supervisors);
    assert.is(findings(queue.report()), '', 'no job lost, stuck, run twice at once or run more often than recorded');
    const jobs = queue.jobs();
    assert.is(jobs.length, 40);
    for (const job of jobs) assert.is(job.history.filter((entry) => entry.outcome === 'completed').length, 1, `${job.id} completed once`);
    for (const one of supervisors) assert.is(one.exit?.code, 0, `each supervisor rode out the restart and drained:\n${one.log}`);
  } finally {
    queue.close();
  }
});

restarted.run();

// ---

const stop = hostsSuite('worker stop on another host');

stop('stops the supervisor on host-a through the database, and waits for its running job', async (context) => {
  const queue = await hostCluster(context);
  try {
    const a = queue.start(queue.a, 1);
    queue.enqueue([{ id: 'two-seconds', command: queue.command('two-seconds', 'true', 2) }]);
    await runStarted(queue, 'two-seconds', 'host-a');
    const result = queue.cliOn(queue.b, ['worker', 'stop', '--timeout', '30s']);
    assert.is(result.status, 0, `worker stop: ${result.stderr}`);
    assert.not.ok(isAlive(a.pid), 'host-a had exited when worker stop returned');
    assert.is((await a.waitExit(5_000)).code, 0, `host-a drained and exited 0:\n${a.log}`);
    assert.is(queue.job('two-seconds')?.state, 'completed', 'its running job finished first');
    assert.is(queue.runs('two-seconds').length, 1);
  } finally {
    queue.close();
  }
});

stop.run();
