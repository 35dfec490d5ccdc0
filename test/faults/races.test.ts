import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Job } from '../../src/lifecycle/job.ts';
import { readHistory, tracedJob } from '../soak/history.ts';
import { queuectlAsync, type Result } from '../support/cli.ts';
import { startSupervisor, type SupervisorProcess } from '../support/supervisor-proc.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const historyOf = (s: Sandbox) => readHistory(s.path('history.log'));

function traced(s: Sandbox, id: string, seconds: number, priority = 0): { id: string; command: string; priority: number } {
  return { id, command: tracedJob(id, { history: s.path('history.log'), locks: s.dir }, 'true', seconds), priority };
}

/** Every job's runs are accounted for by its history, none overlap, and nothing is left processing. */
function assertConsistent(s: Sandbox, jobs: Job[], what: string, maxRuns = 1): void {
  const history = historyOf(s);
  assert.equal(history.overlaps, [], `${what}: two runs of a job were alive at once`);
  for (const job of jobs) {
    const runs = history.runs.get(job.id) ?? [];
    assert.is.not(job.state, 'processing', `${what}: ${job.id} is left processing`);
    assert.ok(runs.length <= job.history.length, `${what}: ${job.id} ran ${runs.length} times, its history records ${job.history.length}`);
    assert.ok(runs.length <= maxRuns, `${what}: ${job.id} ran ${runs.length} times`);
    if (job.state === 'pending') {
      assert.ok(job.history.every((entry) => entry.outcome === 'interrupted'), `${what}: ${job.id} is pending with a finished attempt`);
      assert.is(job.attempts, 0, `${what}: ${job.id}`);
    }
    if (job.state === 'completed') {
      assert.is(job.history.at(-1)?.outcome, 'completed', `${what}: ${job.id}`);
      assert.is(job.history.filter((entry) => entry.outcome !== 'interrupted').length, 1, `${what}: ${job.id} has one finished attempt`);
      assert.is(runs.at(-1)?.code, 0, `${what}: ${job.id} completed without a run that ended well`);
    }
  }
}

/** Waits until `atSeconds` (epoch seconds, as the job's `date +%s.%N` wrote it). */
async function until(atSeconds: number): Promise<void> {
  const ms = atSeconds * 1000 - Date.now();
  if (ms > 0) await sleep(ms);
}

type Stopper = (supervisor: SupervisorProcess, s: Sandbox) => Promise<Result | null>;

const STOPPERS: Record<string, { stop: Stopper; lead: number; forced: boolean }> = {
  'Ctrl+C': { stop: async (supervisor) => (supervisor.signalGroup('SIGINT'), null), lead: 0, forced: false },
  // `worker stop` is a new node process: it sends its SIGTERM about 0.1 s after it is started.
  'worker stop': { stop: (_, s) => queuectlAsync(['worker', 'stop', '--timeout', '20s'], { cwd: s.dir }), lead: 0.1, forced: false },
  'a double Ctrl+C': {
    stop: async (supervisor) => {
      supervisor.signalGroup('SIGINT');
      await sleep(30);
      supervisor.signalGroup('SIGINT');
      return null;
    },
    lead: 0.03,
    forced: true,
  },
};

const JOB_SECONDS = 0.3;
/** When the stop lands, relative to the moment the running job ends by itself. */
const OFFSETS = [-0.08, -0.03, -0.01, 0, 0.01, 0.03, 0.08];

// ---

const race = suite('a stop racing with the completion of a job');

for (const [name, { stop, lead, forced }] of Object.entries(STOPPERS)) {
  scenario(race, `${name} landing just before, at or just after a job ends: ${forced ? 'each job completes or goes back to pending with its run recorded as interrupted' : 'the job is recorded as completed and the next one either runs to its end or never starts'}; nothing is lost or left processing`, async (s) => {
    s.ok('config', 'set', 'kill-grace', '1s');
    const outcomes: string[] = [];
    for (const [trial, offset] of OFFSETS.entries()) {
      const [first, second] = [`first-${trial}`, `second-${trial}`];
      s.enqueue(traced(s, first, JOB_SECONDS, 1), traced(s, second, JOB_SECONDS));
      const supervisor = await s.start(1);
      const started = await waitFor(() => historyOf(s).runs.get(first)?.[0], { interval: 2, what: `${first} to start` });
      await until(started.start + JOB_SECONDS + offset - lead);
      const stopped = await stop(supervisor, s);
      const exit = await supervisor.waitExit(20_000);
      // A second Ctrl+C that lands once the drain is over, as the process exits, ends it with SIGINT:
      // accepted for a forced stop, provided it had finished (its jobs are checked below).
      const lateSecondSignal = forced && exit.signal === 'SIGINT' && supervisor.log.includes(`supervisor ${supervisor.pid} stopped`);
      if (!lateSecondSignal) assert.equal(exit, { code: 0, signal: null }, `trial ${trial}: the supervisor exits 0`);
      if (stopped) {
        assert.is(stopped.status, 0, stopped.stderr);
        assert.match(stopped.stdout, new RegExp(`stopped 1 supervisor \\(pid ${supervisor.pid}\\)`));
      }
      assert.not.ok(fs.existsSync(s.pidFile(supervisor.pid)), 'its PID file is gone');

      const jobs = s.jobs().filter((job) => job.id === first || job.id === second);
      assertConsistent(s, jobs, `trial ${trial} (stop ${offset >= 0 ? '+' : ''}${offset} s from the end)`);
      const [a, b] = jobs as [Job, Job];
      if (!forced) assert.is(a.state, 'completed', `trial ${trial}: a drain lets the running job finish and records it`);
      outcomes.push(`${offset}: ${a.state}/${b.state}`);
      // What is left pending runs in the next trial's supervisor; drain it away before the next trial.
      if (jobs.some((job) => job.state === 'pending')) {
        const cleanup = await s.start(1);
        await s.waitJobs((all) => all.every((job) => job.state === 'completed'), 'the leftovers to complete');
        cleanup.signalGroup('SIGINT');
        await cleanup.waitExit();
      }
    }
    assertConsistent(s, s.jobs(), 'after every trial', 2);
    if (process.env.E2E_VERBOSE) process.stderr.write(`${name}: ${outcomes.join(', ')}\n`);
  });
}

race.run();

// ---

const together = suite('two supervisors started at the same instant');

for (const round of [1, 2, 3]) {
  scenario(together, `in a directory without a store (round ${round}): both start and register, and every job runs exactly once`, async (s) => {
    const pair = [startSupervisor({ cwd: s.dir, count: 2, env: { E2E_SANDBOX: s.tag } }), startSupervisor({ cwd: s.dir, count: 2, env: { E2E_SANDBOX: s.tag } })];
    s.supervisors.push(...pair);
    for (const supervisor of pair) await supervisor.waitLog(new RegExp(`supervisor ${supervisor.pid} started with 2 workers`));
    await waitFor(() => pair.every((supervisor) => fs.existsSync(s.pidFile(supervisor.pid))), { what: 'both PID files' });
    const status = s.json<{ supervisors: { pid: number }[] }>('status', '--json');
    assert.equal(status.supervisors.map((one) => one.pid).sort(), pair.map((one) => one.pid).sort(), 'status lists both');

    const ids = Array.from({ length: 24 }, (_, i) => `job-${i}`);
    s.enqueue(...ids.map((id) => traced(s, id, 0.05)));
    const jobs = await s.waitJobs((all) => all.length === ids.length && all.every((job) => job.state === 'completed'), 'every job to complete', 30_000);
    assertConsistent(s, jobs, `round ${round}`);
    for (const id of ids) assert.is(historyOf(s).runs.get(id)?.length, 1, `${id} ran exactly once`);

    const stop = await queuectlAsync(['worker', 'stop'], { cwd: s.dir });
    assert.is(stop.status, 0, stop.stderr);
    assert.match(stop.stdout, /stopped 2 supervisors/);
    for (const supervisor of pair) assert.equal(await supervisor.waitExit(), { code: 0, signal: null });
  });
}

together.run();
