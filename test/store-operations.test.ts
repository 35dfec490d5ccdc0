/**
 * The seam's operations, one suite run against both stores: what `enqueue`, `turn` and
 * `lostJobs` do must not depend on where the queue lives.
 */
import * as assert from 'uvu/assert';
import type { Test } from 'uvu';
import type { Finished } from '../src/lifecycle/dispatch.ts';
import { loadCron } from '../src/lifecycle/cron.ts';
import { QueueError } from '../src/lifecycle/error.ts';
import type { Job, Owner } from '../src/lifecycle/job.ts';
import { createSchedule } from '../src/lifecycle/schedule.ts';
import { openStore } from '../src/store/open.ts';
import type { Store, TurnOutcome, TurnRequest } from '../src/store/store.ts';
import { job } from './support/factory.ts';
import { pgSuite, withClient, type PgContext } from './support/postgres.ts';
import { tempDir } from './support/tmp.ts';

type Backend = 'file' | 'postgres';

const SELF = { pid: 4242, started: 'test', host: 'test-host' };
const PAST = '2020-01-01T00:00:00.000Z';
const FUTURE = '2099-01-01T00:00:00.000Z';

async function withStore(backend: Backend, context: PgContext, body: (store: Store, url: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir('queuectl-ops-');
  const env: NodeJS.ProcessEnv = { QUEUECTL_HOME: dir };
  if (backend === 'postgres') env.QUEUECTL_DATABASE_URL = await context.server.createDatabase();
  const store = openStore({ env, cwd: dir, now: () => new Date() });
  try {
    await store.prepare();
    await body(store, env.QUEUECTL_DATABASE_URL ?? '');
  } finally {
    await store.close();
    cleanup();
  }
}

const ready = (id: string, extra: Partial<Job> = {}) => job({ id, run_at: PAST, ...extra });

function request(overrides: Partial<TurnRequest> = {}): TurnRequest {
  return { finished: [], interrupted: [], released: [], placed: [], self: SELF, workers: [], waiting: 0, holding: [], cron: null, broken: new Map(), ...overrides };
}

const claim = (store: Store, slots: number, extra: Partial<TurnRequest> = {}) => store.turn(request({ workers: Array.from({ length: slots }, (_, i) => i + 1), ...extra }));

const ids = (outcome: TurnOutcome) => outcome.claimed.map((entry) => entry.id);

function finished(claimed: Job, exitCode: number): Finished {
  const at = new Date().toISOString();
  return { id: claimed.id, owner: claimed.owner as Owner, started_at: claimed.started_at as string, interrupted: false, result: { started_at: at, finished_at: at, exit_code: exitCode, signal: null, timed_out: false, stderr_tail: null } };
}

async function states(store: Store, ...wanted: string[]): Promise<string[]> {
  return (await store.lookupJobs(wanted)).map((entry) => `${entry.id}:${entry.state}`);
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function operations(backend: Backend): void {
  const test: Test<PgContext> = pgSuite(`store operations [${backend}]`);
  const on = (name: string, body: (store: Store) => Promise<void>) => test(name, (context) => withStore(backend, context, body));

  on('enqueue adds jobs; a taken id is a conflict and adds none of the batch; an unknown dependency is refused', async (store) => {
    await store.enqueue([ready('a'), ready('b')]);
    const taken = await caught(store.enqueue([ready('c'), ready('a')]));
    assert.instance(taken, QueueError);
    assert.is((taken as QueueError).code, 'conflict');
    const unknown = await caught(store.enqueue([ready('d', { after: ['nope'] })]));
    assert.instance(unknown, QueueError);
    assert.equal((await store.readAllJobs()).map((entry) => entry.id), ['a', 'b']);
  });

  on('a turn claims the best due jobs in start order, up to the free slots, and says when the next one falls due', async (store) => {
    await store.enqueue([ready('low', { priority: -1 }), ready('old'), ready('young'), ready('later', { run_at: FUTURE }), ready('urgent', { priority: 5 })]);
    const outcome = await claim(store, 3);
    assert.equal(ids(outcome), ['urgent', 'old', 'young']);
    assert.equal(outcome.claimed.map((entry) => entry.owner?.worker), [1, 2, 3]);
    assert.is(outcome.nextDue, Date.parse(FUTURE));
    assert.equal(ids(await claim(store, 3)), ['low']);
  });

  on('a result is recorded only under its claim: one for a claim that moved on is ignored', async (store) => {
    await store.enqueue([ready('a'), ready('b')]);
    const [a, b] = (await claim(store, 2)).claimed as [Job, Job];
    const stale = { ...finished(b, 0), started_at: '2000-01-01T00:00:00.000Z' };
    const outcome = await store.turn(request({ finished: [finished(a, 0), stale], holding: ['b'] }));
    assert.equal(outcome.events.map((event) => event.kind), ['recorded', 'ignored']);
    assert.equal(await states(store, 'a', 'b'), ['a:completed', 'b:processing']);
    assert.is(outcome.holding.get('b')?.job.state, 'processing', 'the held job is looked up');
  });

  on('a queue with --parallel 2 gets 2 claims at most, counting those running; a paused queue and the * entry stop claims', async (store) => {
    await store.transact((doc) => void (doc.queues = { slow: { parallel: 2, paused: false }, held: { parallel: null, paused: true } }));
    await store.enqueue([ready('s1', { queue: 'slow' }), ready('s2', { queue: 'slow' }), ready('s3', { queue: 'slow' }), ready('h1', { queue: 'held' }), ready('d1')]);
    const first = await claim(store, 2);
    assert.equal(ids(first), ['s1', 's2']);
    assert.equal(ids(await claim(store, 4)), ['d1'], 's3 waits for room in its queue; h1 for its queue to be resumed');
    await store.turn(request({ finished: [finished(first.claimed[0] as Job, 0)] }));
    assert.equal(ids(await claim(store, 4)), ['s3']);
    await store.transact((doc) => void (doc.queues = { ...doc.queues, '*': { parallel: null, paused: true } }));
    await store.enqueue([ready('d2')]);
    assert.equal(ids(await claim(store, 4)), [], 'every queue is paused');
  });

  on('a dependent is claimed once its dependency completed; a dead dependency cancels its dependents down the chain', async (store) => {
    await store.enqueue([ready('a', { max_retries: 1 }), ready('b', { after: ['a'] }), ready('c', { after: ['b'] }), ready('x'), ready('y', { after: ['x'] })]);
    const first = await claim(store, 5);
    assert.equal(ids(first), ['a', 'x']);
    const [a, x] = first.claimed as [Job, Job];
    const outcome = await store.turn(request({ finished: [finished(a, 1), finished(x, 0)], workers: [1, 2, 3] }));
    assert.equal(ids(outcome), ['y']);
    assert.equal(await states(store, 'a', 'b', 'c'), ['a:dead', 'b:cancelled', 'c:cancelled']);
    assert.equal(outcome.events.filter((event) => event.kind === 'blocked').map((event) => (event as { job: Job }).job.id).sort(), ['b', 'c']);
  });

  on('a due schedule fires once: a second turn at the same time enqueues nothing', async (store) => {
    const cron = await loadCron();
    const created = new Date(Date.now() - 120_000);
    const schedule = createSchedule({ name: 'tick', cron: '* * * * *', tz: null, job: { command: 'true', cwd: '/tmp', max_retries: 1, priority: 0, queue: 'default', timeout: null, no_retry_on: [], env: {} } }, cron, created);
    await store.transact((doc) => void (doc.schedules = [schedule]));
    const without = await store.turn(request());
    assert.ok(without.firing, 'a turn without the cron rules says a schedule is due');
    const [one, two] = await Promise.all([store.turn(request({ cron })), store.turn(request({ cron }))]);
    assert.is(one!.fired.length + two!.fired.length, 1);
    assert.is((await store.readAllJobs()).filter((entry) => entry.schedule === 'tick').length, 1);
  });

  on('lostJobs: a processing job whose supervisor on this host is gone', async (store) => {
    await store.enqueue([ready('a')]);
    const { claimed } = await claim(store, 1, { self: { pid: 2 ** 22 + 1, started: 'gone', host: (await import('../src/system/proc.ts')).HOST } });
    assert.is(claimed.length, 1);
    assert.equal((await store.lostJobs()).map((entry) => entry.id), ['a']);
  });

  if (backend === 'postgres') {
    test('start order across claims: a row another claim is locking at that instant is skipped, the next best are taken', (context) =>
      withStore(backend, context, async (store, url) => {
        await store.enqueue([ready('first', { priority: 1 }), ready('second'), ready('third')]);
        await withClient(url, async (other) => {
          await other.query('BEGIN');
          await other.query(`SELECT id FROM queuectl_jobs WHERE id = 'first' FOR UPDATE`);
          assert.equal(ids(await claim(store, 1)), ['second'], 'the locked row is skipped once its holder outlasts a claim');
          await other.query('ROLLBACK');
        });
        assert.equal(ids(await claim(store, 2)), ['first', 'third'], 'once free, it is the best again');
      }),
    );
  }

  test.run();
}

operations('file');
operations('postgres');
