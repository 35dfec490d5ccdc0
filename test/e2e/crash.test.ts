import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { groupAlive, isAlive, procInfo } from '../support/supervisor-proc.ts';
import { firstRunLasts, overlapsIn, readRuns, tracedCommand } from '../support/supervisor-runs.ts';
import { scenario } from '../support/supervisor-sandbox.ts';
import { waitFor } from '../support/wait.ts';

const crash = suite('worker start: crashes');

function assertNoOverlap(found: string[], what: string): void {
  assert.ok(found.length === 0, `${what}:\n${found.slice(0, 10).join('\n')}`);
}

scenario(crash, 'after SIGKILL of the whole supervisor group mid-job and a restart, every job completes once and no run overlaps', async (s) => {
  const runs = s.path('runs.txt');
  const watch = s.watchRuns();
  const ids = ['a', 'b', 'c', 'd'];
  s.enqueue(...ids.map((id) => ({ id, command: tracedCommand(id, runs, 6) })));
  const first = await s.start(2);

  await waitFor(() => readRuns(runs).size === 2, { what: 'two jobs to start' });
  const killed = s.jobs().filter((job) => job.state === 'processing').map((job) => job.id).sort();
  assert.is(killed.length, 2);
  const groups = [...readRuns(runs).values()].map((list) => list[0]!.group);
  first.signalGroup('SIGKILL');
  const exit = await first.waitExit();
  assert.is(exit.signal, 'SIGKILL');
  // The jobs run in process groups of their own: they outlive the crash, which is what makes a re-run dangerous.
  assert.ok(groups.every(groupAlive), 'the killed supervisor left its jobs running');
  assert.equal(s.jobs().filter((job) => job.state === 'processing').map((job) => job.id).sort(), killed);

  const second = await s.start(2);
  const jobs = await s.waitJobs((all) => all.every((job) => job.state === 'completed'), 'every job to complete after the restart', 30_000);
  for (const job of jobs) {
    assert.is(job.attempts, 1, `${job.id}: an interrupted run does not spend an attempt`);
    assert.is(job.recoveries, killed.includes(job.id) ? 1 : 0, `${job.id}: recoveries`);
  }
  const status = s.json<{ counts: Record<string, number> }>('status', '--json');
  assert.is(status.counts.processing, 0, 'nothing stays processing');
  assert.is(status.counts.completed, 4);

  const record = readRuns(runs);
  watch.stop();
  assertNoOverlap(overlapsIn(record), 'runs recorded in runs.txt overlap');
  assertNoOverlap(watch.overlaps, 'a killed run was still alive when its re-run started');
  for (const id of ids) {
    const list = record.get(id) ?? [];
    assert.is(list.length, killed.includes(id) ? 2 : 1, `${id}: number of runs started`);
    assert.is(list.filter((run) => run.end !== null).length, 1, `${id}: exactly one run finished`);
  }
  assert.ok(groups.every((group) => !groupAlive(group)), 'the killed runs are gone');
  for (const id of killed) await second.waitLog(new RegExp(`job ${id} recovered`));
});

scenario(crash, 'SIGKILL of one worker mid-job: the worker is replaced and the job re-runs once, without overlap, and completes', async (s) => {
  const runs = s.path('runs.txt');
  const watch = s.watchRuns();
  s.enqueue({ id: 'victim', command: tracedCommand('victim', runs, 2), priority: 1 }, { id: 'bystander', command: tracedCommand('bystander', runs, 2) });
  const supervisor = await s.start(2);

  await waitFor(() => readRuns(runs).get('victim')?.length === 1 && readRuns(runs).get('bystander')?.length === 1, { what: 'both jobs to start' });
  const slot = s.job('victim').owner?.worker;
  assert.ok(slot, 'the processing job names its worker slot');
  const worker = supervisor.workerInSlot(slot!);
  assert.ok(worker, `a worker process holds slot ${slot}`);
  const firstRun = readRuns(runs).get('victim')![0]!;
  assert.is(procInfo(firstRun.group)?.ppid, worker, "the job's sh is a child of that worker");
  const before = supervisor.workers();
  assert.is(before.length, 2);

  process.kill(worker!, 'SIGKILL');
  const job = await s.waitJob('victim', (j) => j.state === 'completed', 'to complete after its worker died', 15_000);
  assert.is(job.recoveries, 1);
  assert.is(job.attempts, 1);
  assert.equal(job.history.map((attempt) => attempt.outcome), ['interrupted', 'completed']);
  await supervisor.waitLog(new RegExp(`worker ${slot} killed by SIGKILL while running job victim`));

  watch.stop();
  assertNoOverlap(overlapsIn(readRuns(runs)), 'runs recorded in runs.txt overlap');
  assertNoOverlap(watch.overlaps, 'the interrupted run was still alive when its re-run started');
  const list = readRuns(runs).get('victim')!;
  assert.is(list.length, 2, 'the job ran again once');
  assert.is(list[0]!.end, null, 'the interrupted run never finished');
  assert.ok(list[1]!.end !== null);
  assert.not.ok(groupAlive(firstRun.group), 'the interrupted run was killed with its worker');

  const bystander = await s.waitJob('bystander', (j) => j.state === 'completed', 'to complete');
  assert.is(bystander.recoveries, 0, 'the other worker was not disturbed');
  const replaced = await waitFor(() => {
    const now = supervisor.workers();
    return now.length === 2 && !now.includes(worker!) ? now : null;
  }, { what: 'a replacement worker' });
  assert.ok(replaced.some((pid) => !before.includes(pid)));
  assert.is(supervisor.workerInSlot(slot!) !== null, true, 'the replacement took over the slot');
  assert.ok(supervisor.running);
});

scenario(crash, 'a job that kills its own worker every time goes dead after 3 recoveries while other jobs keep flowing', async (s) => {
  const out = s.path('ok.txt');
  const others = Array.from({ length: 8 }, (_, i) => `other-${i}`);
  // The worker is the parent of the job's sh.
  s.enqueue({ id: 'poison', command: 'kill -9 $PPID; sleep 5', priority: 10 }, ...others.map((id) => ({ id, command: `sleep 0.2; echo ${id} >> '${out}'` })));
  const supervisor = await s.start(2);

  const dead = await s.waitJob('poison', (j) => j.state === 'dead', 'to go dead', 30_000);
  assert.is(dead.recoveries, 3);
  assert.is(dead.attempts, 0, 'a killed worker is not a failed attempt');
  assert.match(dead.last_error ?? '', /interrupted 3 times/);
  assert.match(dead.last_error ?? '', /worker/);
  assert.equal(dead.history.map((attempt) => attempt.outcome), ['interrupted', 'interrupted', 'interrupted']);
  await supervisor.waitLog(/job poison is dead/);
  assert.is((supervisor.log.match(/killed by SIGKILL while running job poison/g) ?? []).length, 3);

  await s.waitJobs((all) => others.every((id) => all.find((job) => job.id === id)?.state === 'completed'), 'the other jobs to complete', 20_000);
  assert.equal(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).sort(), others);
  assert.ok(supervisor.running, 'the supervisor survives its workers');
  await waitFor(() => supervisor.workers().length === 2, { what: 'two workers again' });
});

scenario(crash, 'SIGKILL of the primary alone: its workers exit and stop their jobs; after a restart each job runs once more, without overlap', async (s) => {
  const runs = s.path('runs.txt');
  const watch = s.watchRuns();
  // Long jobs: a job that ends by itself must not pass for one its worker killed.
  s.enqueue(...['a', 'b'].map((id) => ({ id, command: tracedCommand(id, runs, firstRunLasts(20, 1, s.path(`${id}.ran`))) })));
  const first = await s.start(2);
  // Started, and past choosing their length (the flag): a run killed before it marks itself as
  // the first would make the re-run last 20 s too.
  await waitFor(() => readRuns(runs).size === 2 && ['a', 'b'].every((id) => fs.existsSync(s.path(`${id}.ran`))), { what: 'both jobs to start' });
  const groups = [...readRuns(runs).values()].map((list) => list[0]!.group);
  const workers = first.workers();
  assert.is(workers.length, 2);

  process.kill(first.pid, 'SIGKILL');
  await first.waitExit();
  await waitFor(() => workers.every((pid) => !isAlive(pid)), { what: 'the workers to exit once their primary is gone' });
  await waitFor(() => groups.every((group) => !groupAlive(group)), {
    timeout: 3_000,
    what: `the workers to kill their jobs (groups ${groups.join(', ')}) when their primary is gone, since nobody can record the results`,
  });

  const second = await s.start(2);
  const jobs = await s.waitJobs((all) => all.every((job) => job.state === 'completed'), 'both jobs to complete after the restart', 20_000);
  for (const job of jobs) {
    assert.is(job.recoveries, 1, `${job.id} recoveries`);
    assert.is(job.attempts, 1, `${job.id} attempts`);
  }
  watch.stop();
  assertNoOverlap(overlapsIn(readRuns(runs)), 'runs recorded in runs.txt overlap');
  assertNoOverlap(watch.overlaps, 'two runs of a job were alive at once');
  for (const list of readRuns(runs).values()) {
    assert.is(list.length, 2);
    assert.is(list[0]!.end, null, 'the first run was killed');
  }
  assert.ok(second.running);
});

scenario(crash, 'a supervisor that keeps running recovers the jobs of one that crashed, within seconds', async (s) => {
  const runs = s.path('runs.txt');
  const watch = s.watchRuns();
  const crashing = await s.start(1);
  s.enqueue({ id: 'orphan', command: tracedCommand('orphan', runs, 3) });
  await waitFor(() => readRuns(runs).get('orphan')?.length === 1, { what: 'the job to start' });
  assert.is(s.job('orphan').owner?.pid, crashing.pid);
  const survivor = await s.start(1);

  crashing.signalGroup('SIGKILL');
  const killedAt = Date.now();
  await crashing.waitExit();
  await survivor.waitLog(/job orphan recovered/, 10_000);
  const recoveredIn = (Date.now() - killedAt) / 1000;
  assert.ok(recoveredIn < 6, `recovered ${recoveredIn.toFixed(1)} s after the crash`);

  const job = await s.waitJob('orphan', (j) => j.state === 'completed', 'to complete under the surviving supervisor', 15_000);
  assert.is(job.recoveries, 1);
  assert.is(job.attempts, 1);
  await survivor.waitLog(/job orphan completed/);
  watch.stop();
  assertNoOverlap(overlapsIn(readRuns(runs)), 'runs recorded in runs.txt overlap');
  assertNoOverlap(watch.overlaps, 'the crashed run was still alive when its re-run started');
  assert.is(readRuns(runs).get('orphan')?.length, 2);
});

crash.run();
