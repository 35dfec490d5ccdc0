import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { takeTurn } from '../src/lifecycle/dispatch.ts';
import { QueueError } from '../src/lifecycle/error.ts';
import type { Job } from '../src/lifecycle/job.ts';
import { pickDue } from '../src/lifecycle/start-order.ts';
import { admitByQueue, checkKnownQueue, EVERY_QUEUE, newQueues, parseParallel, queueNames, summarizeQueues, withQueue } from '../src/lifecycle/queue.ts';
import { admitter, checkDependencies, endBlocked, enqueueDependents, hasBlocked, neededByWaiting, reviveDependents, waitingFor } from '../src/lifecycle/workflow.ts';
import { at, job } from './support/factory.ts';

const owner = (worker: number) => ({ pid: 100, started: '5', host: 'h', worker });
const ids = (jobs: readonly Job[]) => jobs.map((entry) => entry.id);
const byId = (jobs: readonly Job[]) => new Map(jobs.map((entry) => [entry.id, entry]));

// ---

const eligible = suite('admitter: which due jobs may start');

eligible('a job starts only once every dependency has completed', () => {
  const jobs = [job({ id: 'build', state: 'processing' }), job({ id: 'lint', state: 'completed' }), job({ id: 'test', after: ['build', 'lint'] })];
  assert.equal(ids(pickDue(jobs, at(0), 5, { admit: admitter(undefined) })), []);
  const built = [{ ...jobs[0]!, state: 'completed' as const }, jobs[1]!, jobs[2]!];
  assert.equal(ids(pickDue(built, at(0), 5, { admit: admitter(undefined) })), ['test']);
});

eligible('a dependency no longer in jobs.json (archived) counts as completed', () => {
  assert.equal(ids(pickDue([job({ id: 'test', after: ['gone'] })], at(0), 5, { admit: admitter(undefined) })), ['test']);
});

eligible('only removes jobs: the rest keep their start order (priority, then age)', () => {
  const jobs = [
    job({ id: 'old-low' }),
    job({ id: 'blocked-high', priority: 9, after: ['dep'] }),
    job({ id: 'dep', state: 'failed', run_at: at(100).toISOString() }),
    job({ id: 'new-high', priority: 5 }),
    job({ id: 'paused', priority: 7, queue: 'p' }),
  ];
  const queues = withQueue(undefined, 'p', { paused: true });
  assert.equal(ids(pickDue(jobs, at(0), 5, { admit: admitter(queues) })), ['new-high', 'old-low']);
  assert.equal(ids(pickDue(jobs, at(0), 1, { admit: admitter(queues) })), ['new-high'], 'the limit cuts the admitted list, in order');
});

eligible('a queue limit counts its running jobs and those admitted before', () => {
  const queues = withQueue(undefined, 'gpu', { parallel: 2 });
  const jobs = [job({ id: 'r', queue: 'gpu', state: 'processing' }), job({ id: 'a', queue: 'gpu' }), job({ id: 'b', queue: 'gpu' }), job({ id: 'c' })];
  assert.equal(ids(admitByQueue(jobs.slice(1), jobs, queues)), ['a', 'c']);
  const none = withQueue(queues, 'gpu', { parallel: 1 });
  assert.equal(ids(admitByQueue(jobs.slice(1), jobs, none)), ['c'], 'a full queue starts nothing; others go on');
});

eligible('the * entry pauses every queue, one no job used before included, and keeps each queue\'s own settings', () => {
  const queues = withQueue(withQueue(undefined, 'gpu', { parallel: 2 }), EVERY_QUEUE, { paused: true });
  const jobs = [job({ id: 'a' }), job({ id: 'g', queue: 'gpu' }), job({ id: 'n', queue: 'brand-new' })];
  assert.equal(ids(admitByQueue(jobs, jobs, queues)), []);
  assert.equal(queueNames(jobs, queues), ['brand-new', 'default', 'gpu'], '* is not a queue');
  assert.equal(summarizeQueues(jobs, queues, ['pending']).map((queue) => [queue.name, queue.parallel, queue.paused]), [['brand-new', null, true], ['default', null, true], ['gpu', 2, true]]);
  const resumed = withQueue(queues, EVERY_QUEUE, { paused: false });
  assert.equal(resumed, { gpu: { parallel: 2, paused: false } }, 'gpu keeps its limit, not the pause');
  assert.equal(ids(admitByQueue(jobs, jobs, resumed)), ['a', 'g', 'n']);
});

eligible('a queue named for pause must exist; a new one in enqueue is told apart', () => {
  assert.is(checkKnownQueue('gpu', ['default', 'gpu']), 'gpu');
  assert.throws(() => checkKnownQueue('defualt', ['default', 'gpu']), (error: QueueError) => error.code === 'not-found' && /did you mean default\?/.test(error.message));
  assert.equal(newQueues([{ queue: 'gpu' }, { queue: 'default' }, { queue: 'cpu' }], [job({ queue: 'gpu' })], { cpu: { parallel: 1, paused: false } }), []);
  assert.equal(newQueues([{ queue: 'gpuu' }], [job({ queue: 'gpu' })], undefined), ['gpuu']);
});

eligible('takeTurn claims within the limit in the same step that records a finished run', () => {
  const running = job({ id: 'first', queue: 'gpu', state: 'processing', owner: owner(1), started_at: at(0).toISOString() });
  const jobs = [running, job({ id: 'second', queue: 'gpu' }), job({ id: 'third', queue: 'gpu' })];
  const queues = withQueue(undefined, 'gpu', { parallel: 1 });
  const self = { pid: 100, started: '5', host: 'h' };
  const turn = { finished: [], interrupted: [], released: [], placed: [], self, workers: [2, 3], waiting: 0, backoffBase: 2, queues };
  assert.equal(takeTurn(jobs, turn, at(1)).claimed, [], 'the queue is full while first runs');
  const result = { started_at: at(0).toISOString(), finished_at: at(1).toISOString(), exit_code: 0, signal: null, timed_out: false, stderr_tail: null };
  const after = takeTurn(jobs, { ...turn, finished: [{ id: 'first', owner: owner(1), started_at: running.started_at as string, result, interrupted: false }] }, at(1));
  assert.equal(ids(after.claimed), ['second'], 'one slot freed, one job claimed');
});

eligible.run();

// ---

const settings = suite('queue settings');

settings('a queue back at its defaults leaves no entry; names are kept in order', () => {
  const one = withQueue(withQueue(undefined, 'zeta', { paused: true }), 'alpha', { parallel: 3 });
  assert.equal(Object.keys(one), ['alpha', 'zeta']);
  assert.equal(withQueue(one, 'zeta', { paused: false }), { alpha: { parallel: 3, paused: false } });
});

settings('--parallel: 0 and off remove the limit; anything else must be a whole number', () => {
  assert.is(parseParallel('0'), null);
  assert.is(parseParallel('off'), null);
  assert.is(parseParallel('4'), 4);
  for (const bad of ['-1', '1.5', 'two', '']) assert.throws(() => parseParallel(bad), (error: unknown) => error instanceof QueueError && error.code === 'invalid-input');
});

settings.run();

// ---

const failure = suite('a dependency that ends dead or cancelled');

failure('ends its dependents as cancelled, with the reason, down the whole chain', () => {
  const jobs = [job({ id: 'build', state: 'dead' }), job({ id: 'test', after: ['build'] }), job({ id: 'deploy', after: ['test'] }), job({ id: 'other' })];
  assert.ok(hasBlocked(jobs));
  const { jobs: next, ended } = endBlocked(jobs, at(5));
  assert.equal(ids(ended), ['test', 'deploy']);
  const shown = byId(next);
  assert.is(shown.get('test')?.state, 'cancelled');
  assert.is(shown.get('test')?.last_error, 'not run: dependency "build" is dead');
  assert.is(shown.get('deploy')?.last_error, 'not run: dependency "test" is cancelled');
  assert.is(shown.get('other')?.state, 'pending');
  assert.not.ok(hasBlocked(next));
});

failure('a restart of the dependency puts the chain back to waiting', () => {
  const ended = endBlocked([job({ id: 'build', state: 'dead' }), job({ id: 'test', after: ['build'] }), job({ id: 'deploy', after: ['test'] }), job({ id: 'mine', state: 'cancelled', after: ['build'], last_error: 'exit code 1' })], at(5)).jobs;
  const { jobs, revived } = reviveDependents(ended, ['build'], at(9));
  assert.equal(revived, ['test', 'deploy']);
  assert.is(byId(jobs).get('deploy')?.state, 'pending');
  assert.is(byId(jobs).get('deploy')?.last_error, null);
  assert.is(byId(jobs).get('mine')?.state, 'cancelled', 'a job cancelled for another reason stays cancelled');
  assert.equal(waitingFor(byId(jobs).get('deploy')!, jobs), ['test']);
});

failure('a restart revives dependents from the archive too, back live at their place by creation', () => {
  const live = [job({ id: 'build', created_at: at(1).toISOString() }), job({ id: 'later', created_at: at(4).toISOString() })];
  const archived = [
    job({ id: 'test', state: 'cancelled', after: ['build'], last_error: 'not run: dependency "build" is dead', created_at: at(2).toISOString() }),
    job({ id: 'deploy', state: 'cancelled', after: ['test'], last_error: 'not run: dependency "test" is cancelled', created_at: at(3).toISOString() }),
    job({ id: 'mine', state: 'cancelled', after: ['build'], last_error: 'exit code 1', created_at: at(3).toISOString() }),
    job({ id: 'later', state: 'cancelled', after: ['build'], last_error: 'not run: dependency "build" is dead', created_at: at(0).toISOString() }),
  ];
  const { jobs, revived } = reviveDependents(live, ['build'], at(9), archived);
  assert.equal(revived, ['test', 'deploy']);
  assert.equal(ids(jobs), ['build', 'test', 'deploy', 'later'], 'an archived copy of a live id is not touched');
  assert.equal([byId(jobs).get('deploy')?.state, byId(jobs).get('deploy')?.last_error], ['pending', null]);
});

failure('a dependent that another ended dependency blocks too stays cancelled, live or archived', () => {
  const jobs = [
    job({ id: 'build', state: 'pending' }),
    job({ id: 'test', state: 'cancelled', after: ['build', 'lint'], last_error: 'not run: dependency "build" is dead' }),
    job({ id: 'docs', state: 'cancelled', after: ['build', 'spell'], last_error: 'not run: dependency "build" is dead' }),
  ];
  const archived = [job({ id: 'lint', state: 'cancelled' }), job({ id: 'spell', state: 'completed' })];
  const { jobs: next, revived } = reviveDependents(jobs, ['build'], at(9), archived);
  assert.equal(revived, ['docs']);
  assert.is(byId(next).get('test')?.state, 'cancelled');
  assert.equal(ids(next), ['build', 'test', 'docs'], 'dependencies are looked at, not brought back');
});

failure('jobs that waiting jobs depend on are needed: the archive and clean keep them', () => {
  const jobs = [job({ id: 'a', state: 'completed' }), job({ id: 'b', state: 'completed' }), job({ id: 'c', after: ['a'] }), job({ id: 'd', state: 'completed', after: ['b'] })];
  assert.equal([...neededByWaiting(jobs)], ['a']);
});

failure.run();

// ---

const check = suite('checkDependencies at enqueue');

const refused = (fn: () => void, code: string, message: RegExp) =>
  assert.throws(fn, (error: unknown) => error instanceof QueueError && error.code === code && message.test(error.message));

check('refuses an unknown id, naming it', () => {
  refused(() => checkDependencies([job({ id: 'test', after: ['nope'] })], byId([job({ id: 'build' })])), 'invalid-input', /no job "nope"/);
});

check('refuses a job that waits for itself, and a cycle within one batch', () => {
  refused(() => checkDependencies([job({ id: 'a', after: ['a'] })], new Map()), 'invalid-input', /cannot wait for itself/);
  const batch = [job({ id: 'a', after: ['c'] }), job({ id: 'b', after: ['a'] }), job({ id: 'c', after: ['b'] })];
  refused(() => checkDependencies(batch, new Map()), 'invalid-input', /cycle: a → c → b → a/);
});

check('accepts a dependency that is dead or cancelled: enqueueDependents cancels the job instead', () => {
  checkDependencies([job({ id: 'test', after: ['build'] })], byId([job({ id: 'build', state: 'dead' })]));
});

check('accepts existing jobs in any state that can still complete, and jobs of the same batch in any order', () => {
  const known = byId([job({ id: 'x', state: 'failed' }), job({ id: 'y', state: 'completed' })]);
  checkDependencies([job({ id: 'late', after: ['early', 'x', 'y'] }), job({ id: 'early' })], known);
});

check.run();

// ---

const enqueued = suite('enqueueDependents: new jobs after a dead or cancelled job');

enqueued('cancels a new job that waits for a dead job at once, naming it, down a chain in the batch', () => {
  const known = byId([job({ id: 'build', state: 'dead' }), job({ id: 'lint', state: 'completed' })]);
  const batch = [job({ id: 'deploy', after: ['test'] }), job({ id: 'test', after: ['lint', 'build'] }), job({ id: 'docs', after: ['lint'] })];
  const { jobs, ended } = enqueueDependents(batch, known, at(5));
  assert.equal(ids(jobs), ['deploy', 'test', 'docs'], 'the batch, in its order, and nothing else');
  assert.equal(ids(ended), ['test', 'deploy']);
  const shown = byId(jobs);
  assert.equal([shown.get('test')?.state, shown.get('test')?.last_error, shown.get('test')?.finished_at], ['cancelled', 'not run: dependency "build" is dead', at(5).toISOString()]);
  assert.is(shown.get('deploy')?.last_error, 'not run: dependency "test" is cancelled');
  assert.is(shown.get('docs')?.state, 'pending');
});

enqueued('gives the same jobs as when the dependency dies a moment after the enqueue', () => {
  const early = enqueueDependents([job({ id: 'test', after: ['build'] })], byId([job({ id: 'build', state: 'cancelled' })]), at(5)).jobs;
  const late = endBlocked([job({ id: 'build', state: 'cancelled' }), job({ id: 'test', after: ['build'] })], at(5)).jobs.slice(1);
  assert.equal(early, late);
});

enqueued('still refuses an unknown id or a cycle, and leaves jobs whose dependencies can complete alone', () => {
  refused(() => enqueueDependents([job({ id: 'test', after: ['nope'] })], new Map(), at(5)), 'invalid-input', /no job "nope"/);
  const batch = [job({ id: 'test', after: ['build'] })];
  assert.equal(enqueueDependents(batch, byId([job({ id: 'build', state: 'failed' })]), at(5)), { jobs: batch, ended: [] });
});

enqueued.run();
