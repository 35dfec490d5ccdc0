/**
 * Eight supervisors on one PostgreSQL: every job once, queue limits exact across them,
 * schedules once per firing, dependencies respected, and the start order DECISIONS.md states.
 */
import fs from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { queuectl } from '../support/cli.ts';
import { readRuns, tracedCommand, type RunRecord } from '../support/supervisor-runs.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';

const SUPERVISORS = 8;

async function startAll(s: Sandbox, workers: number, env: NodeJS.ProcessEnv = {}) {
  // Every job stays live (none archived), so that the checks read them all.
  s.ok('config', 'set', 'keep-finished', '100000');
  return Promise.all(Array.from({ length: SUPERVISORS }, () => s.start(workers, env)));
}

const allCompleted = (ids: readonly string[]) => (jobs: { id: string; state: string }[]) => {
  const done = new Set(jobs.filter((job) => job.state === 'completed').map((job) => job.id));
  return ids.every((id) => done.has(id));
};

function onlyRun(runs: Map<string, RunRecord[]>, id: string): RunRecord {
  const list = runs.get(id) ?? [];
  assert.is(list.length, 1, `${id} ran once`);
  return list[0] as RunRecord;
}

const scale = suite('eight supervisors on one PostgreSQL');

scenario(
  scale,
  '1,000 jobs over 8 supervisors: each runs exactly once',
  async (s) => {
    const trace = s.path('runs');
    const ids = Array.from({ length: 1000 }, (_, i) => `j${String(i).padStart(4, '0')}`);
    await startAll(s, 2);
    s.enqueue(...ids.map((id) => ({ id, command: tracedCommand(id, trace, 0) })));
    await s.waitJobs(allCompleted(ids), 'every job to complete', 120_000);
    const runs = readRuns(trace);
    assert.equal(ids.filter((id) => (runs.get(id) ?? []).length !== 1), [], 'every job ran exactly once');
    assert.is(runs.size, 1000);
  },
  { on: 'postgres' },
);

scenario(
  scale,
  'a queue with --parallel 2: never 3 of its jobs at once across 8 supervisors, and 2 at once happen',
  async (s) => {
    s.ok('queue', 'set', 'narrow', '--parallel', '2');
    const lock = s.path('lock');
    const count = s.path('count');
    const seen = s.path('seen');
    fs.writeFileSync(count, '0\n');
    // Each run counts itself in under flock, records how many run, stays a moment, counts itself out.
    const step = (delta: string) => `flock '${lock}' sh -c 'n=$(( $(cat "${count}") ${delta} )); echo $n > "${count}"; echo $n >> "${seen}"'`;
    const command = `${step('+ 1')}; sleep 0.2; ${step('- 1')}`;
    const ids = Array.from({ length: 24 }, (_, i) => `n${i}`);
    await startAll(s, 2);
    s.enqueue(...ids.map((id) => ({ id, queue: 'narrow', command })));
    await s.waitJobs(allCompleted(ids), 'every job of the narrow queue to complete', 60_000);
    const counts = fs.readFileSync(seen, 'utf8').split('\n').filter(Boolean).map(Number);
    assert.ok(Math.max(...counts) <= 2, `at most 2 ran at once: ${counts.join(' ')}`);
    assert.ok(counts.includes(2), `2 ran at once at some point: ${counts.join(' ')}`);
  },
  { on: 'postgres' },
);

scenario(
  scale,
  'a * * * * * schedule fires exactly once per firing across 8 supervisors (time injected, 3 s per minute)',
  async (s) => {
    const env = { ...s.env, QUEUECTL_TEST_CLOCK: `${Date.now()},2030-01-01T00:00:30Z,20` };
    const added = queuectl(['schedule', 'add', 'tick', '--cron', '* * * * *', '--', 'true'], { cwd: s.dir, env });
    assert.is(added.status, 0, added.stderr);
    const supervisors = await startAll(s, 1, env);
    await s.waitJobs((all) => all.filter((job) => job.state === 'completed').length >= 5, 'five firings to complete', 60_000);
    for (const supervisor of supervisors) supervisor.signalGroup('SIGTERM');
    await Promise.all(supervisors.map((supervisor) => supervisor.waitExit()));
    const ids = s.jobs().map((job) => job.id);
    const minutes = ids.map((id) => Number(/^tick@20300101T00(\d\d)00Z$/.exec(id)?.[1]));
    // The first firing may be a catch-up (eight supervisors take a moment to start on a loaded machine): from then on, every minute once.
    assert.equal(minutes, minutes.map((_, i) => (minutes[0] as number) + i), `one job per minute, none missing or repeated: ${ids.join(' ')}`);
    const fired = supervisors.flatMap((supervisor) => [...supervisor.log.matchAll(/schedule tick fired: enqueued job (\S+)/g)].map((match) => match[1]));
    assert.equal([...fired].sort(), [...ids].sort(), 'each firing was enqueued by exactly one supervisor');
  },
  { on: 'postgres' },
);

scenario(
  scale,
  'a chain of 100 and a fan-in of 100: each job starts only after its dependencies ended',
  async (s) => {
    const trace = s.path('runs');
    const chain = Array.from({ length: 100 }, (_, i) => `c${i}`);
    const fan = Array.from({ length: 100 }, (_, i) => `f${i}`);
    await startAll(s, 2);
    s.enqueue(
      ...chain.map((id, i) => ({ id, command: tracedCommand(id, trace, 0), ...(i > 0 && { after: [chain[i - 1]] }) })),
      ...fan.map((id) => ({ id, command: tracedCommand(id, trace, 0.05) })),
      { id: 'sink', command: tracedCommand('sink', trace, 0), after: fan },
    );
    await s.waitJobs(allCompleted([...chain, ...fan, 'sink']), 'the chain and the fan-in to complete', 120_000);
    const runs = readRuns(trace);
    const early: string[] = [];
    for (const [i, id] of chain.entries()) {
      if (i > 0 && onlyRun(runs, id).start < (onlyRun(runs, chain[i - 1] as string).end as number)) early.push(`${id} before ${chain[i - 1]} ended`);
    }
    const sink = onlyRun(runs, 'sink').start;
    for (const id of fan) if (sink < (onlyRun(runs, id).end as number)) early.push(`sink before ${id} ended`);
    assert.equal(early, [], 'no job started before a dependency ended');
  },
  { on: 'postgres' },
);

/**
 * DECISIONS.md: a claim takes the best due jobs it can lock, and a supervisor starts them at
 * once; so among jobs due together, none starts later than one behind it in start order by more
 * than the spread of concurrent claims.
 */
const SPREAD_S = 0.3;

scenario(
  scale,
  'start order across 8 supervisors: among jobs due together, none starts after one behind it in start order (beyond the claims\' spread)',
  async (s) => {
    const trace = s.path('runs');
    // Every queue paused while the jobs go in (the queue is new: it has no name to pause yet), so that they are due together.
    s.ok('queue', 'pause');
    const specs = Array.from({ length: 48 }, (_, i) => ({ id: `o${i}`, priority: i % 4 === 0 ? 5 : i % 4 === 1 ? -5 : 0 }));
    await startAll(s, 1);
    s.enqueue(...specs.map((spec) => ({ ...spec, queue: 'ordered', command: tracedCommand(spec.id, trace, 0.3) })));
    s.ok('queue', 'resume');
    await s.waitJobs(allCompleted(specs.map((spec) => spec.id)), 'every ordered job to complete', 60_000);
    const runs = readRuns(trace);
    const ranked = specs.map((spec, index) => ({ ...spec, index })).sort((a, b) => b.priority - a.priority || a.index - b.index);
    const late: string[] = [];
    for (const [i, ahead] of ranked.entries()) {
      for (const behind of ranked.slice(i + 1)) {
        const wait = onlyRun(runs, ahead.id).start - onlyRun(runs, behind.id).start;
        if (wait > SPREAD_S) late.push(`${behind.id} started ${wait.toFixed(3)} s before ${ahead.id}, which is ahead of it`);
      }
    }
    assert.equal(late, [], `jobs started out of order:\n${late.join('\n')}`);
  },
  { on: 'postgres' },
);

scale.run();
