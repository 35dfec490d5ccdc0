import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { takeTurn, WAIT_FOR_OTHERS_MS, type Turn } from '../src/lifecycle/dispatch.ts';
import type { Job } from '../src/lifecycle/job.ts';
import { at, job, T0 } from './support/factory.ts';

const self = { pid: 100, started: '5', host: 'h' };
const other = { pid: 200, started: '7', host: 'h' };

function turn(overrides: Partial<Turn> = {}): Turn {
  return { finished: [], interrupted: [], released: [], placed: [], self, workers: [], waiting: 0, backoffBase: 2, ...overrides };
}

const pending = (...ids: string[]) => ids.map((id) => job({ id }));
const ownerOf = (jobs: Job[], id: string) => jobs.find((j) => j.id === id)?.owner;

// ---

const claims = suite('takeTurn: claims');

claims('gives free workers the first due jobs by name, and the next ones wait under worker 0', () => {
  const { claimed, jobs } = takeTurn(pending('a', 'b', 'c', 'd'), turn({ workers: [2, 1], waiting: 1 }), at(1));
  assert.equal(claimed.map((j) => [j.id, j.owner?.worker]), [['a', 2], ['b', 1], ['c', 0]]);
  assert.is(ownerOf(jobs, 'c')?.pid, 100);
  assert.is(jobs.find((j) => j.id === 'd')?.state, 'pending');
});

claims('claims nothing behind a job that waits at another supervisor, and what is ahead of it still', () => {
  const waitingThere = job({ id: 'there', state: 'processing', owner: { ...other, worker: 0 }, started_at: T0.toISOString() });
  const jobs = [job({ id: 'a' }), waitingThere, job({ id: 'b' }), job({ id: 'urgent', priority: 3 })];
  assert.equal(takeTurn(jobs, turn({ workers: [1], waiting: 5 }), at(1)).claimed.map((j) => j.id), ['urgent', 'a']);
});

claims('a job started at another supervisor, or waiting there for too long, holds nothing back', () => {
  const running = job({ id: 'running', state: 'processing', owner: { ...other, worker: 2 }, started_at: T0.toISOString() });
  const stale = job({ id: 'stale', state: 'processing', owner: { ...other, worker: 0 }, started_at: T0.toISOString() });
  const now = new Date(T0.getTime() + WAIT_FOR_OTHERS_MS);
  const { claimed } = takeTurn([running, stale, ...pending('a', 'b')], turn({ workers: [1], waiting: 5 }), now);
  assert.equal(claimed.map((j) => j.id), ['a', 'b']);
});

claims.run();

// ---

const placed = suite('takeTurn: waiting claims that started');

placed('records the worker of a waiting claim that started, and leaves a claim that moved on alone', () => {
  const claim = (id: string, started: string) => job({ id, state: 'processing', owner: { ...self, worker: 0 }, started_at: started });
  const jobs = [claim('a', T0.toISOString()), claim('b', at(1).toISOString()), job({ id: 'c', state: 'cancelled' })];
  const owner = { ...self, worker: 0 };
  const result = takeTurn(
    jobs,
    turn({
      placed: [
        { id: 'a', owner, started_at: T0.toISOString(), worker: 3 },
        { id: 'b', owner, started_at: T0.toISOString(), worker: 2 },
        { id: 'c', owner, started_at: T0.toISOString(), worker: 1 },
      ],
    }),
    at(2),
  );
  assert.equal(result.jobs.map((j) => j.owner?.worker ?? null), [3, 0, null]);
  assert.equal(result.events, []);
});

placed('records the result of a claim whose worker was noted in between', () => {
  const jobs = [job({ id: 'a', state: 'processing', owner: { ...self, worker: 3 }, started_at: T0.toISOString() })];
  const result = { started_at: T0.toISOString(), finished_at: at(1).toISOString(), exit_code: 0, signal: null, timed_out: false, stderr_tail: null };
  const outcome = takeTurn(jobs, turn({ finished: [{ id: 'a', owner: { ...self, worker: 0 }, started_at: T0.toISOString(), result, interrupted: false }] }), at(2));
  assert.is(outcome.jobs[0]?.state, 'completed');
});

placed.run();
