import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readRuns, tracedCommand } from '../support/supervisor-runs.ts';
import { scenario, type Sandbox } from '../support/supervisor-sandbox.ts';

/**
 * Jobs handed to different workers in one turn start at nearly the same instant, in no fixed
 * order: a start this much later than a younger job's is their spread, not a job kept waiting.
 * A job kept waiting behind a long run waits for most of that run (2 s here), so the spread may
 * be well below that: on PostgreSQL two supervisors' claims are separate round trips, and on a
 * loaded 2-core machine they were seen 0.36 s apart.
 */
const SPREAD_S = 0.8;

const ROUNDS = 3;

interface Spec {
  id: string;
  priority: number;
  seconds: number;
}

const short = (id: string, priority = 0): Spec => ({ id, priority, seconds: 0 });
const long = (id: string, priority = 0): Spec => ({ id, priority, seconds: 2 });
const shorts = (prefix: string, count: number, priority = 0): Spec[] => Array.from({ length: count }, (_, i) => short(`${prefix}${i + 1}`, priority));

/** Trivial jobs first, so that the supervisors know runs are short and claim jobs ahead. */
async function warmUp(s: Sandbox, round: number): Promise<void> {
  const ids = Array.from({ length: 20 }, (_, i) => `warm-${round}-${i}`);
  s.enqueue(...ids.map((id) => ({ id, command: 'true' })));
  await s.waitJobs((jobs) => ids.every((id) => jobs.find((job) => job.id === id)?.state === 'completed'), 'the warm-up jobs to complete', 20_000);
}

/**
 * Enqueues `specs` in one transaction (all due at once, in this creation order), waits for them
 * all, and returns every pair where a job started while one ahead of it in start order (higher
 * priority, or equal and older) had not started yet.
 */
async function runInOrder(s: Sandbox, round: number, specs: Spec[]): Promise<string[]> {
  const trace = s.path(`starts-${round}`);
  const ids = specs.map((spec) => `${spec.id}-${round}`);
  s.enqueue(...specs.map((spec, i) => ({ id: ids[i], priority: spec.priority, command: tracedCommand(ids[i] as string, trace, spec.seconds) })));
  await s.waitJobs((jobs) => ids.every((id) => jobs.find((job) => job.id === id)?.state === 'completed'), `round ${round} to complete`, 30_000);

  const runs = readRuns(trace);
  const startOf = (id: string) => {
    const list = runs.get(id) ?? [];
    assert.is(list.length, 1, `${id} ran once`);
    return (list[0] as { start: number }).start;
  };
  const ranked = specs.map((spec, index) => ({ id: ids[index] as string, priority: spec.priority, index })).sort((a, b) => b.priority - a.priority || a.index - b.index);
  const late: string[] = [];
  for (const [i, ahead] of ranked.entries()) {
    for (const behind of ranked.slice(i + 1)) {
      const wait = startOf(ahead.id) - startOf(behind.id);
      if (wait > SPREAD_S) late.push(`${behind.id} started ${wait.toFixed(3)} s before ${ahead.id}, which is ahead of it`);
    }
  }
  return late;
}

async function assertStartOrder(s: Sandbox, specs: Spec[]): Promise<void> {
  const late: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    await warmUp(s, round);
    late.push(...(await runInOrder(s, round, specs)));
  }
  assert.equal(late, [], `jobs started out of order:\n${late.join('\n')}`);
}

// ---

const order = suite('worker start: jobs start in priority order, then oldest first, whichever worker is free');

scenario(order, 'a long job first: the short jobs after it start in order on the other worker, none waits behind it', async (s) => {
  await s.start(2);
  await assertStartOrder(s, [long('long'), ...shorts('s', 24)]);
});

scenario(order, 'a long job among short ones: the jobs after it do not wait behind it while younger ones start', async (s) => {
  await s.start(2);
  await assertStartOrder(s, [...shorts('w', 8), long('big'), ...shorts('t', 16)]);
});

scenario(order, 'mixed priorities: a low-priority job never starts while older jobs of higher priority wait', async (s) => {
  await s.start(2);
  await assertStartOrder(s, [long('sleep'), ...shorts('p', 3), short('low', -5), ...shorts('q', 6), long('slow'), ...shorts('r', 6), short('urgent', 5), short('later', -5)]);
});

scenario(order, 'two supervisors with two workers each: neither starts a job while an older one waits at the other', async (s) => {
  await s.start(2);
  await s.start(2);
  await assertStartOrder(s, [...shorts('w', 8), long('big'), ...shorts('t', 12), long('bigger', 1), short('low', -5), ...shorts('u', 12), long('last')]);
});

order.run();
